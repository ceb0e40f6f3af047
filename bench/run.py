"""``scripts/bench [--quick]``: every benchmark of issue 7, written to ``docs/benchmarks.md``.

1. import of generated voters from CSV (``bench/import_bench.py``) into SQLite and,
   when reachable, a fresh PostgreSQL database, beside a bare sqlite3 executemany; and
   a re-import under traffic (``bench/import_traffic.py``, PostgreSQL);
2. ``codes issue`` for the same voters: codes per second, notices file size;
3. HTTP under gunicorn, 2 sync workers on the loopback (``bench/http_bench.py``),
   each endpoint beside a bare Flask route, the bcrypt-bound ones beside the bcrypt bound;
4. RSS of each worker after the load;

each figure the median of ``--runs`` runs (3 by default), then a capacity estimate.
``--quick`` (20,000 voters, 5-second HTTP runs) checks that everything works in a few
minutes and writes ``bench/out/benchmarks-quick.md`` instead, so that it never
replaces the full figures.  Raw figures of the last run: ``bench/out/last-run.json``.

Everything it starts is stopped at the end, on error and on SIGINT/SIGTERM too:
gunicorn servers, PostgreSQL databases (dropped), Redis keys (deleted), temporary files.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from bench import import_bench, procs, report
from bench.http_bench import HttpBench, Options

ROOT = procs.ROOT
OUT_DIR = os.path.join(ROOT, "bench", "out")
PYTHON = sys.executable
PACKAGES = ("Flask", "Werkzeug", "SQLAlchemy", "gunicorn", "bcrypt", "psycopg", "Flask-Limiter", "limits",
            "redis", "Flask-WTF", "itsdangerous", "Jinja2")
_started = time.monotonic()


def say(text: str) -> None:
    line = f"[{time.monotonic() - _started:7.1f} s] {text}"
    print(line, file=sys.stderr, flush=True)
    with open(os.path.join(OUT_DIR, "last-run.log"), "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="vérification rapide : 20 000 électeurs, courses HTTP de 5 s")
    parser.add_argument("--out", help="document écrit (défaut : docs/benchmarks.md, "
                                      "bench/out/benchmarks-quick.md avec --quick)")
    parser.add_argument("--rows", type=int, help="électeurs importés et codes émis (défaut 1 000 000)")
    parser.add_argument("--runs", type=int, default=3, help="mesures par chiffre, dont on prend la médiane")
    parser.add_argument("--duration", type=float, help="durée de chaque course HTTP en s (défaut 20)")
    parser.add_argument("--http-voters", type=int, help="électeurs de la base du banc HTTP (défaut 100 000)")
    parser.add_argument("--rounds", type=int, default=12, help="coût bcrypt (défaut 12, celui de la configuration)")
    parser.add_argument("--only", default="import,codes,http", help="parties à mesurer (import,codes,http)")
    parser.add_argument("--no-postgres", action="store_true", help="ne pas utiliser PostgreSQL")
    parser.add_argument("--no-redis", action="store_true", help="limites de débit en memory://")
    parser.add_argument("--rush", action="store_true",
                        help="la ruée de l'ouverture (issue 15) seule : boucle ouverte à 1×, 2× et 5× la capacité, "
                             "fournisseurs lents ; écrit la section « rush » de docs/benchmarks.md")
    parser.add_argument("--rush-seconds", type=float, default=None,
                        help="durée de chaque palier (défaut 20, --quick 6)")
    parser.add_argument("--no-nginx", action="store_true",
                        help="--rush : les requêtes vont droit à gunicorn, même si nginx est là")
    parser.add_argument("--rush-voters", type=int, default=None,
                        help="électeurs de la base (défaut 15 000 par répétition)")
    parser.add_argument("--rush-repeats", type=int, default=None,
                        help="--rush : chaque palier N fois, la médiane au tableau (défaut 3, --quick 1)")
    parser.add_argument("--patience", type=float, default=10.0, help="un électeur abandonne après N s (défaut 10)")
    parser.add_argument("--smtp-latency", type=float, default=20.0, help="secondes du relais SMTP par courriel")
    parser.add_argument("--from-json", metavar="FICHIER",
                        help="ne rien mesurer : réécrire le document depuis les chiffres bruts d'un run")
    args = parser.parse_args(argv)
    args.rows = args.rows or (20_000 if args.quick else 1_000_000)
    args.duration = args.duration or (5.0 if args.quick else 20.0)
    args.http_voters = args.http_voters or (30_000 if args.quick else 100_000)
    args.out = args.out or os.path.join(OUT_DIR if args.quick else os.path.join(ROOT, "docs"),
                                        "benchmarks-quick.md" if args.quick else "benchmarks.md")
    args.parts = {p.strip() for p in args.only.split(",") if p.strip()}
    args.rush_seconds = args.rush_seconds or (6.0 if args.quick else 20.0)
    args.rush_repeats = args.rush_repeats or (1 if args.quick else 3)
    # About 13,000 voters per repeat of every step (each takes fresh ones), plus some to spare.
    args.rush_voters = args.rush_voters or (12_000 if args.quick else 15_000 * args.rush_repeats)
    if args.runs < 1:
        parser.error("--runs doit valoir 1 au moins")
    return args


# --- the machine ----------------------------------------------------------------------------

def machine() -> dict:
    import sqlite3
    from importlib.metadata import PackageNotFoundError, version

    def cpu_model() -> str:
        try:
            with open("/proc/cpuinfo") as fh:
                for line in fh:
                    if line.startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return platform.processor() or "?"

    def mem_total() -> str:
        try:
            with open("/proc/meminfo") as fh:
                kib = int(fh.readline().split()[1])
            return f"{kib / 2**20:.1f} Gio"
        except (OSError, ValueError, IndexError):
            return "?"

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    versions = {"Python": platform.python_version(), "SQLite (bibliothèque)": sqlite3.sqlite_version}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    if procs.postgres_reachable() is None:
        versions["PostgreSQL (serveur)"] = procs.postgres_version()
    if procs.redis_reachable() is None:
        versions["Redis (serveur)"] = procs.redis_version()
    changed = git("status", "--porcelain")
    return {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "memory": mem_total(),
        "system": f"{platform.system()} {platform.release()}",
        "versions": versions,
        "commit": git("rev-parse", "--short", "HEAD"),
        "local_changes": len(changed.splitlines()) if changed else 0,
        "load_start": os.getloadavg(),
    }


# --- 1. import --------------------------------------------------------------------------------

def _write_keeping_rush(path: str, text: str) -> None:
    """Write the report, keeping the rush section of the previous one (``scripts/bench --rush`` writes it)."""
    from bench import rush

    old = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    if rush.MARK_START in old and rush.MARK_END in old:
        rush.write(path, old[old.index(rush.MARK_START):old.index(rush.MARK_END) + len(rush.MARK_END)] + "\n")


def _subprocess(module: str, args: list[str], timeout: float) -> dict:
    """Run ``python -m module args --json F`` and return what it wrote."""
    with tempfile.NamedTemporaryFile(suffix=".json", dir=OUT_DIR, delete=False) as fh:
        out = fh.name
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("REASSORT_")}
        with open(os.path.join(OUT_DIR, "logs", f"{module.rsplit('.', 1)[1]}.log"), "ab") as log:
            subprocess.run([PYTHON, "-m", module, *args, "--json", out], cwd=ROOT, env=env, check=True,
                           stdout=log, stderr=log, stdin=subprocess.DEVNULL, timeout=timeout)
        with open(out) as fh:
            return json.load(fh)
    finally:
        os.unlink(out)


def _remove_sqlite(path: str) -> None:
    for suffix in ("", "-wal", "-shm", ".raw", ".raw-wal", ".raw-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)


def bench_import(args, tmp: str, results: dict) -> str:
    """Runs of the import on SQLite (and PostgreSQL); returns the last SQLite database, for codes."""
    csv_path = os.path.join(tmp, "electeurs.csv")
    start = time.perf_counter()
    import_bench.generate_csv(csv_path, args.rows)
    results["import"] = {"rows": args.rows, "csv_bytes": os.path.getsize(csv_path),
                         "csv_seconds": time.perf_counter() - start, "sqlite": [], "postgresql": [],
                         "load_start": os.getloadavg()}
    say(f"import : CSV de {args.rows:,d} électeurs ({os.path.getsize(csv_path) / 2**20:.0f} Mio)")
    timeout = max(600.0, args.rows * 0.003)
    last_db = ""
    for run in range(1, args.runs + 1):
        db_path = os.path.join(tmp, f"import-{run}.db")
        figures = _subprocess("bench.import_runs", ["--csv", csv_path, "--url", f"sqlite:///{db_path}",
                                                    "--rows", str(args.rows), "--raw"], timeout)
        results["import"]["sqlite"].append(figures)
        create = figures["phases"][0]
        say(f"import SQLite {run}/{args.runs} : {args.rows / create['seconds']:,.0f} lignes/s, "
            f"pic {create['peak_kib'] / 1024:.0f} Mio ; "
            f"sqlite3 seul {args.rows / figures['raw_seconds']:,.0f} lignes/s")
        if last_db:
            _remove_sqlite(last_db)
        last_db = db_path
    problem = "désactivé (--no-postgres)" if args.no_postgres else procs.postgres_reachable()
    results["import"]["postgresql_problem"] = problem
    if problem is None:
        for run in range(1, args.runs + 1):
            url = procs.create_database("reassort_bench_import")
            try:
                figures = _subprocess("bench.import_runs", ["--csv", csv_path, "--url", url,
                                                            "--rows", str(args.rows)], timeout)
            finally:
                procs.drop_database(url)
            results["import"]["postgresql"].append(figures)
            say(f"import PostgreSQL {run}/{args.runs} : "
                f"{args.rows / figures['phases'][0]['seconds']:,.0f} lignes/s")
        voters = min(args.rows, args.http_voters)
        say(f"import : ré-import de {voters:,d} électeurs sous trafic (POST /vote, POST /reassort/regenerer)")
        results["import"]["traffic"] = _subprocess("bench.import_traffic", ["--voters", str(voters),
                                                                              "--baseline", str(args.duration)],
                                                   max(900.0, voters * 0.01))
    else:
        say(f"import PostgreSQL ignoré : {problem}")
    os.unlink(csv_path)
    return last_db


# --- 2. codes ---------------------------------------------------------------------------------

def bench_codes(args, tmp: str, db_path: str, results: dict) -> None:
    results["codes"] = {"voters": args.rows, "runs": [], "load_start": os.getloadavg()}
    for run in range(1, args.runs + 1):
        figures = _subprocess("bench.codes_runs", ["--url", f"sqlite:///{db_path}", "--out-dir", tmp],
                              max(600.0, args.rows * 0.003))
        results["codes"]["runs"].append(figures)
        say(f"codes {run}/{args.runs} : {figures['codes'] / figures['seconds']:,.0f} codes/s, "
            f"fichier {figures['file_bytes'] / 2**20:.1f} Mio")


# --- 3, 4. HTTP and memory --------------------------------------------------------------------

def bench_http(args, tmp: str, results: dict) -> None:
    options = Options(voters=args.http_voters, duration=args.duration, runs=args.runs, rounds=args.rounds,
                      use_postgres=not args.no_postgres, use_redis=not args.no_redis)
    bench = HttpBench(options, tmp, os.path.join(OUT_DIR, "logs"), say)
    try:
        say(f"HTTP : préparation ({args.http_voters:,d} électeurs, serveurs gunicorn)")
        bench.setup()
        results["http"] = bench.run()
    finally:
        bench.teardown()


# --- the command ------------------------------------------------------------------------------

def _stop_on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    args = parse_args(argv)
    os.makedirs(os.path.join(OUT_DIR, "logs"), exist_ok=True)
    if args.from_json:
        with open(args.from_json) as fh:
            results = json.load(fh)
        if results.get("quick") and "--out" not in (argv if argv is not None else sys.argv[1:]):
            args.out = os.path.join(OUT_DIR, "benchmarks-quick.md")
        _write_keeping_rush(args.out, report.render(results))
        print(f"écrit : {os.path.relpath(args.out, ROOT)}", file=sys.stderr)
        return 0
    open(os.path.join(OUT_DIR, "last-run.log"), "w").close()
    if args.rush:
        return _rush(args, argv)
    for name in os.listdir(os.path.join(OUT_DIR, "logs")):
        os.unlink(os.path.join(OUT_DIR, "logs", name))
    signal.signal(signal.SIGTERM, _stop_on_signal)
    results = {"quick": args.quick, "runs": args.runs, "rows": args.rows, "rounds": args.rounds,
               "command": "scripts/bench" + (" --quick" if args.quick else "") +
                          "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]) if a != "--quick")}
    results["machine"] = machine()
    say(f"charge de la machine au départ : {results['machine']['load_start']}")
    tmp = tempfile.mkdtemp(prefix="reassort-bench-")
    try:
        db_path = ""
        if "import" in args.parts or "codes" in args.parts:
            db_path = bench_import(args, tmp, results)
        if "codes" in args.parts:
            bench_codes(args, tmp, db_path, results)
        if "http" in args.parts:
            bench_http(args, tmp, results)
    finally:
        procs.stop_all()
        procs.drop_all_databases()
        shutil.rmtree(tmp, ignore_errors=True)
        results["machine"]["load_end"] = os.getloadavg()
        results["machine"]["seconds"] = time.monotonic() - _started
        with open(os.path.join(OUT_DIR, "last-run.json"), "w") as fh:
            json.dump(results, fh, indent=1, default=str)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    _write_keeping_rush(args.out, report.render(results))
    say(f"écrit : {os.path.relpath(args.out, ROOT)} (chiffres bruts : bench/out/last-run.json)")
    return 0


#: ``voters send-activation`` runs: (relay latency per mail in s, voters); 16 connections, the default.
MAILING_RUNS = ((0.0, 5000), (0.2, 2000))


def bench_mailing(args) -> list[dict]:
    """``voters send-activation`` against a loopback relay, instant then 200 ms per mail (issue 15)."""
    runs = []
    for latency, voters in MAILING_RUNS:
        voters = voters // 5 if args.quick else voters
        run = _subprocess("bench.mailing_runs", ["--voters", str(voters), "--latency", str(latency),
                                                 "--connections", "16"], timeout=600)
        say(f"send-activation, relais à {latency:g} s : {run['mails_per_s']:.0f} courriels/s")
        runs.append(run)
    return runs


def _rush(args, argv) -> int:
    from bench import rush

    signal.signal(signal.SIGTERM, _stop_on_signal)
    tmp = tempfile.mkdtemp(prefix="reassort-rush-")
    command = "scripts/bench " + " ".join(argv if argv is not None else sys.argv[1:])
    try:
        # The mass mailing first, on a quiet machine: right after the rush, PostgreSQL was still
        # settling the rush's databases (load 8 a minute later) and the same code sent 210 mails/s
        # where it sent 290 alone.  An election mails its voters on a quiet day, not mid-rush.
        mailing = bench_mailing(args)
        results = rush.run(args, tmp, os.path.join(OUT_DIR, "logs"), say)
        results["mailing"] = mailing
    finally:
        procs.stop_all()
        procs.drop_all_databases()
        shutil.rmtree(tmp, ignore_errors=True)
    with open(os.path.join(OUT_DIR, "rush.json"), "w") as fh:
        json.dump(results, fh, indent=1, default=str)
    out = os.path.join(OUT_DIR, "benchmarks-quick.md") if args.quick else os.path.join(ROOT, "docs", "benchmarks.md")
    rush.write(out, rush.render(results, command.strip()))
    say(f"écrit : {os.path.relpath(out, ROOT)} (section rush ; chiffres bruts : bench/out/rush.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
