"""``docs/benchmarks.md`` from the raw figures of one ``scripts/bench`` run.

Every figure is the median of the run's repetitions (each repetition is listed in
the appendix); ratios are taken within a repetition (same machine load) and
their median given.  §5 (profiles, fixes, what remains) is the hand-written
``bench/analysis.md``, included as it is; §6 derives the capacity of a
1.2-million-voter election from the measured CPU per request, under the
assumptions stated in ``CAPACITY``.
"""

from __future__ import annotations

import math
import os
from statistics import median

HERE = os.path.dirname(os.path.abspath(__file__))
MB = 1_000_000  # targets are in MB; /proc reports KiB

TARGET_IMPORT_SQLITE = 50_000   # rows/s
TARGET_VOTE_VS_BARE = 0.50
TARGET_BCRYPT_VS_BOUND = 0.85
TARGET_WORKER_RSS_MB = 80

LABELS = {
    "bare": "bare route `GET /bench-bare` (bench/bare_app.py)",
    "home": "`GET /` (home, logged in)",
    "captcha": "`GET /captcha/image/<id>.png` (CAPTCHA image)",
    "vote": "`POST /vote` (correct code)",
    "regen": "`POST /reassort/regenerer` (regeneration)",
    "login": "`POST /connexion` (1 bcrypt check)",
    "defi": "`POST /reassort/question-defi` (1 bcrypt check, e-mail)",
}

#: The capacity model's assumptions (§6): change them here, re-render with --from-json.
CAPACITY = {
    "voters": 1_200_000,
    "turnout": 0.50,          # share of voters who vote (pessimistic: such elections rarely reach it)
    "rush_share": 0.15,       # share of all votes cast during the busiest hour (the last one)
    "peak_factor": 2.0,       # busiest minutes of that hour, relative to the hour's average
    "utilisation": 0.70,      # CPU busy share the cores are sized for at that peak
    "login_retries": 0.15,    # extra login attempts per voter (mistyped password)
    "reassort_share": 0.05,   # share of those voters who get a new code in that hour
}


def _median(values):
    values = [v for v in values if v is not None]
    return median(values) if values else None


def _n(value, digits=0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}".replace(",", " ")


def _pct(value) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f} %" if value < 0.095 else f"{value * 100:.0f} %"


def _mib(kib) -> str:
    return "—" if kib is None else f"{kib / 1024:.0f} MiB"


def _load_around(http: dict | None) -> str:
    if not http or "load_before" not in http:
        return "no HTTP part"
    return f"{http['load_before'][0]:.2f} just before the HTTP part, {http['load_after'][0]:.2f} just after"


def _ok(met) -> str:
    return "—" if met is None else ("met" if met else "**missed**")


# --- figures --------------------------------------------------------------------------------

def import_figures(imp: dict, backend: str) -> dict | None:
    runs = imp.get(backend) or []
    if not runs:
        return None
    rows = imp["rows"]
    create = [rows / r["phases"][0]["seconds"] for r in runs]
    update = [rows / r["phases"][1]["seconds"] for r in runs if len(r["phases"]) > 1]
    figures = {
        "create": _median(create), "update": _median(update),
        "create_runs": create, "update_runs": update,
        "peak_create_kib": _median([r["phases"][0]["peak_kib"] for r in runs]),
        "peak_update_kib": _median([r["phases"][1]["peak_kib"] for r in runs if len(r["phases"]) > 1]),
        "base_kib": _median([r["phases"][0]["rss_before_kib"] for r in runs]),
        "workers_peak_kib": _median([r["phases"][0].get("workers_peak_kib", 0) for r in runs]),
        # CPU per row of the importer's process and of its checking processes (creation phase).
        "cpu_us": _median([r["phases"][0].get("cpu_seconds", 0) / rows * 1e6 for r in runs]),
        "workers_cpu_us": _median([r["phases"][0].get("workers_cpu_seconds", 0) / rows * 1e6 for r in runs]),
    }
    if all("raw_seconds" in r for r in runs):
        raw = [rows / r["raw_seconds"] for r in runs]
        figures["raw"] = _median(raw)
        figures["raw_runs"] = raw
        figures["ratio_to_raw"] = _median([r["raw_seconds"] / r["phases"][0]["seconds"] for r in runs])
    return figures


def codes_figures(codes: dict) -> dict | None:
    runs = codes.get("runs") or []
    if not runs:
        return None
    rates = [r["codes"] / r["seconds"] for r in runs]
    return {"rate": _median(rates), "rate_runs": rates, "codes": runs[-1]["codes"],
            "file_bytes": _median([r["file_bytes"] for r in runs]),
            "peak_kib": _median([r["peak_kib"] for r in runs]),
            "base_kib": _median([r["rss_before_kib"] for r in runs]),
            "seconds": _median([r["seconds"] for r in runs])}


def http_figures(http: dict) -> dict:
    """Medians per endpoint; ratios per round (neighbours in time), then their median.

    Two kinds of ratio: of throughputs (what the targets name) and of CPU per
    request (the reference's CPU ÷ the endpoint's, workers + PostgreSQL), which
    the other processes of a shared machine do not disturb.
    """
    runs = http["runs"]
    bare = runs.get("bare", [])
    bound = runs.get("bcrypt", [])
    out = {"bound": _median([r["rate"] for r in bound]), "bound_runs": [r["rate"] for r in bound],
           "bound_cpu_ms": _median([r.get("cpu_ms") for r in bound])}
    for endpoint, results in runs.items():
        if endpoint == "bcrypt" or not results:
            continue
        figures = {key: _median([r[key] for r in results])
                   for key in ("rate", "p50_ms", "p99_ms", "server_cpu_ms", "db_cpu_ms", "client_cpu_share")}
        figures["rate_runs"] = [r["rate"] for r in results]
        figures["failed"] = sum(r["failed"] for r in results)
        figures["completed"] = sum(r["completed"] for r in results)
        figures["first_failure"] = next((r["first_failure"] for r in results if r["failed"]), "")
        cpu = [r["server_cpu_ms"] + r["db_cpu_ms"] for r in results]
        figures["cpu_ms"] = _median(cpu)
        pairs = list(zip(results, bare, strict=False))
        figures["vs_bare"] = _median([r["rate"] / b["rate"] for r, b in pairs if b["rate"]])
        figures["vs_bare_cpu"] = _median([b["server_cpu_ms"] / (r["server_cpu_ms"] + r["db_cpu_ms"])
                                          for r, b in pairs if r["server_cpu_ms"]])
        if endpoint in ("login", "defi"):
            figures["vs_bound"] = _median([r["rate"] / r["bound_rate"] for r in results if r.get("bound_rate")])
            figures["vs_bound_cpu"] = _median([r["bound_cpu_ms"] / (r["server_cpu_ms"] + r["db_cpu_ms"])
                                               for r in results if r.get("bound_cpu_ms") and r["server_cpu_ms"]])
            figures["bound_runs"] = [r.get("bound_rate") for r in results]
        out[endpoint] = figures
    return out


def memory_figures(http: dict) -> dict:
    rounds = http.get("memory") or []
    worst = [max(w.get("VmRSS", 0) for w in r["workers"].values()) for r in rounds if r["workers"]]
    worst_pss = [max(w.get("Pss", 0) for w in r["workers"].values()) for r in rounds if r["workers"]]
    worst_uss = [max(w.get("Uss", 0) for w in r["workers"].values()) for r in rounds if r["workers"]]
    return {"worst_rss_kib": _median(worst), "worst_pss_kib": _median(worst_pss),
            "worst_uss_kib": _median(worst_uss), "rounds": rounds}


# --- capacity ---------------------------------------------------------------------------------

def capacity(h: dict, assumptions: dict | None = None) -> dict | None:
    """Cores for the busiest hour, from the CPU per request measured (workers + PostgreSQL)."""
    needed = ("home", "captcha", "vote", "regen", "login", "defi")
    if any(h.get(e, {}).get("cpu_ms") is None for e in needed):
        return None
    a = {**CAPACITY, **(assumptions or {})}
    total = _capacity_of({e: h[e]["cpu_ms"] / 1000 for e in needed}, a)
    database = _capacity_of({e: (h[e]["db_cpu_ms"] or 0) / 1000 for e in needed}, a)
    total["database_cores"] = database["cores"]
    total["app_cores"] = total["cores"] - database["cores"]
    return total


def _capacity_of(c: dict, a: dict) -> dict:
    # What each voter of the rush hour costs.  Pages that write a CAPTCHA challenge
    # (GET /connexion, GET /vote with the CAPTCHA on) are priced like POST /vote,
    # other pages like GET /.
    login_attempt = c["vote"] + c["captcha"] + c["login"]          # page + image + POST
    vote_step = c["home"] + c["vote"] + c["captcha"] + c["vote"] + c["home"]  # home, page, image, POST, space
    reassort = (2 * c["home"] + c["defi"] + 2 * c["home"] + c["regen"]  # choice, form, POST, link, page, POST
                + c["vote"] + c["captcha"] + c["vote"])                   # the vote again with the new code
    per_voter = (1 + a["login_retries"]) * login_attempt + vote_step + a["reassort_share"] * reassort
    bcrypt = (1 + a["login_retries"]) * c["login"] + a["reassort_share"] * c["defi"]
    bcrypt_share = bcrypt / per_voter if per_voter else 0.0
    voters_per_s = a["voters"] * a["turnout"] * a["rush_share"] / 3600
    average = voters_per_s * per_voter
    cores = average * a["peak_factor"] / a["utilisation"]
    return {"voters_per_s": voters_per_s, "per_voter_ms": per_voter * 1000, "average_cores": average,
            "cores": cores, "cores_rounded": math.ceil(cores), "bcrypt_share": bcrypt_share,
            "login_attempt_ms": login_attempt * 1000,
            "requests_per_voter": (1 + a["login_retries"]) * 3 + 5 + a["reassort_share"] * 9}


# --- the document -----------------------------------------------------------------------------

NO_POOL = "none (a small file is checked in the importer's process)"


def _workers_peak(figures: dict) -> str:
    peak = figures.get("workers_peak_kib")
    return f" + {_mib(peak)} per checking process" if peak else ""


def _pool_peak(figures: dict) -> str:
    return _mib(figures["workers_peak_kib"]) if figures.get("workers_peak_kib") else NO_POOL


def _render_traffic(w, traffic: dict) -> None:
    """§1's re-import under traffic (``bench/import_traffic.py``)."""
    imp = traffic["import"]
    w("### Re-import during the poll")
    w("")
    w(f"`bench/import_traffic.py`: {traffic['voters']:,} voters on PostgreSQL, gunicorn with 2 sync workers, the "
      f"`DATABASE_URL` of `deploy/reassort.env.example` (`{traffic['database_url_options']}`). Two loads side "
      "by side, `POST /vote` (reads the voter, writes an audit row) and `POST /reassort/regenerer` (updates the "
      "voter's row, as the import does), first alone, then during a re-import in which every voter changes: "
      f"{imp['changed']:,} voters rewritten in {imp['seconds']:.1f} s, {imp['batch']:,} per transaction. Every "
      "answer is checked; a failure is any other answer (503, 5xx, a timeout).")
    w("")
    w("| load | served alone | failed | p50 / p99 / max alone | served during the import | failed | "
      "p50 / p99 / max during |")
    w("|---|---|---|---|---|---|---|")
    for name, label in (("vote", "`POST /vote`"), ("regen", "`POST /reassort/regenerer`")):
        a, d = traffic["alone"].get(name), traffic["during"].get(name)
        if not a or not d:
            continue
        w(f"| {label} | {a['served']:,} | {a['failed']} | {a['p50_ms']:.0f} / {a['p99_ms']:.0f} / "
          f"{a['max_ms']:.0f} ms | {d['served']:,} | {d['failed']} | {d['p50_ms']:.0f} / {d['p99_ms']:.0f} / "
          f"{d['max_ms']:.0f} ms |")
    w("")


def render(results: dict) -> str:
    m = results["machine"]
    runs = results["runs"]
    quick = results.get("quick")
    imp = results.get("import")
    sqlite = import_figures(imp, "sqlite") if imp else None
    pg = import_figures(imp, "postgresql") if imp else None
    codes = codes_figures(results["codes"]) if results.get("codes") else None
    http = results.get("http")
    h = http_figures(http) if http else {}
    mem = memory_figures(http) if http else {}
    cap = capacity(h) if http else None
    L: list[str] = []
    w = L.append

    w("# Benchmarks")
    w("")
    w(f"Written by `{results.get('command', 'scripts/bench')}` on {m['date']}"
      f"{' — **quick check, not the reference figures**' if quick else ''}. "
      "Do not edit by hand: run `scripts/bench` again (20–30 minutes on 2 cores; `--quick` takes a few "
      "minutes and writes `bench/out/benchmarks-quick.md` instead). §5 is `bench/analysis.md`, included as it is.")
    w("")
    w(f"Every figure is the **median of {runs} runs**; each run is listed in the appendix. Ratios are "
      "taken within a run (same moment, same machine load) and their median given.")
    w("")

    # Summary
    w("## Summary")
    w("")
    w("| figure | median | ratio | target | |")
    w("|---|---|---|---|---|")
    if sqlite:
        w(f"| import 1: CSV → SQLite, {imp['rows']:,} voters | {_n(sqlite['create'])} rows/s, peak "
          f"{_mib(sqlite['peak_create_kib'])}{_workers_peak(sqlite)} | "
          f"{_pct(sqlite.get('ratio_to_raw'))} of a bare sqlite3 executemany "
          f"({_n(sqlite.get('raw'))} rows/s) | ≥ 50 000 rows/s | "
          f"{_ok(sqlite['create'] >= TARGET_IMPORT_SQLITE)} |")
    if pg:
        versus = _pct(pg["create"] / sqlite["raw"]) if sqlite and sqlite.get("raw") else "—"
        w(f"| import 1: CSV → PostgreSQL | {_n(pg['create'])} rows/s, peak {_mib(pg['peak_create_kib'])} | "
          f"{versus} of the sqlite3 executemany | — | |")
    if codes:
        w(f"| codes issue 2: {codes['codes']:,} voters | {_n(codes['rate'])} codes/s | notices file "
          f"{codes['file_bytes'] / MB:.1f} MB | — | |")
    for endpoint in ("home", "captcha", "vote", "regen", "login", "defi"):
        f = h.get(endpoint)
        if not f:
            continue
        ratio = f"{_pct(f['vs_bare'])} of bare ({_pct(f['vs_bare_cpu'])} in CPU)"
        target, met = "—", None
        if endpoint == "vote":
            target, met = "≥ 50 % of bare", f["vs_bare"] is not None and f["vs_bare"] >= TARGET_VOTE_VS_BARE
        if endpoint in ("login", "defi"):
            ratio = f"{_pct(f['vs_bound'])} of the bcrypt bound ({_pct(f['vs_bound_cpu'])} in CPU)"
            target = "≥ 85 % of the bcrypt bound"
            met = f["vs_bound"] is not None and f["vs_bound"] >= TARGET_BCRYPT_VS_BOUND
        w(f"| HTTP 3: {LABELS[endpoint]} | {_n(f['rate'], 1)} req/s, p50 {_n(f['p50_ms'], 1)} ms, "
          f"p99 {_n(f['p99_ms'], 1)} ms | {ratio} | {target} | {_ok(met)} |")
    if h.get("bare"):
        w(f"| HTTP 3: {LABELS['bare']} | {_n(h['bare']['rate'])} req/s, p50 {_n(h['bare']['p50_ms'], 1)} ms, "
          f"p99 {_n(h['bare']['p99_ms'], 1)} ms | reference | — | |")
    if h.get("bound"):
        w(f"| bcrypt bound, cost {results['rounds']}, 2 processes | {_n(h['bound'], 2)} checks/s, "
          f"{_n(h['bound_cpu_ms'])} ms CPU per check | reference | — | |")
    if mem.get("worst_rss_kib"):
        w(f"| memory 4: RSS of the largest worker after the load | {mem['worst_rss_kib'] * 1024 / MB:.0f} MB "
          f"({_mib(mem['worst_rss_kib'])}) | PSS {_mib(mem['worst_pss_kib'])}, private {_mib(mem['worst_uss_kib'])} "
          "| ≤ 80 MB | "
          f"{_ok(mem['worst_rss_kib'] * 1024 / MB <= TARGET_WORKER_RSS_MB)} |")
    if cap:
        w(f"| capacity 6: cores for the rush hour of 1.2 M voters | **{cap['cores_rounded']} cores** | "
          f"{cap['bcrypt_share'] * 100:.0f} % of it bcrypt | — | |")
    w("")

    # Machine
    w("## Machine and conditions")
    w("")
    load0 = m.get("load_start") or (0, 0, 0)
    load1 = m.get("load_end") or (0, 0, 0)
    w(f"- **Date**: {m['date']}; total time of the command: {m.get('seconds', 0) / 60:.0f} min.")
    w(f"- **Machine**: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM, {m['system']}.")
    w(f"- **Load** (`os.getloadavg()`, 1/5/15 min): {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f} at the start, "
      f"{load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f} at the end (the bench's own processes included; "
      f"{_load_around(http)}). The machine is shared with the team's test suites (pytest, PostgreSQL, Redis, "
      "headless browsers), which come and go: absolute figures move with them, while the ratios, measured side "
      "by side, and the CPU per request hardly do.")
    changes = m.get("local_changes") or 0
    w(f"- **Code**: commit `{m.get('commit') or '?'}`"
      + (f" plus {changes} files changed in the work tree (the team's work in progress)." if changes else "."))
    w("- **Versions**: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".")
    w("")

    # 1. Import
    if imp:
        w("## 1. Import of voters from CSV")
        w("")
        w(f"`bench/import_bench.py` generates {imp['rows']:,} realistic voters ({imp['csv_bytes'] / MB:.0f} MB of "
          "CSV: NUMEN and/or NIR with its key, Corsican communes, 1–3 scrutins, both date formats) and "
          "`import_bench.run_import` imports them with `importer.import_voters` into a fresh database (the first "
          "import: rows written as they are checked, one transaction), then imports the same file again (every "
          "voter known: the re-import path — staged, compared field by field, nothing to write). The rows are "
          "checked by a pool of processes, one per core (`reassort/importer/checking.py`), while the importer's "
          "process writes. Each run is a process of its own (`bench/import_runs.py`) so that its peak RSS "
          "(`VmHWM`, cleared before each phase) is its own; the peak includes the interpreter and the app (about "
          f"{_mib(sqlite['base_kib']) if sqlite else '—'} before the import); each checking process peaks "
          "apart (its RSS counts pages it shares with the importer, forked from it). The reference is "
          "`import_bench.raw_sqlite_insert`: the very same stored rows written by a bare `sqlite3` executemany to an "
          "empty copy of the schema, without reading, checking or hashing anything. PostgreSQL: a fresh database "
          "created for each run on 127.0.0.1:5432 and dropped afterwards.")
        w("")
        w("| backend | create (rows/s) | re-import (rows/s) | peak RSS create / re-import | peak RSS of a checking "
          "process | CPU per row: importer + checking | bare sqlite3 executemany | import ÷ bare |")
        w("|---|---|---|---|---|---|---|---|")
        if sqlite:
            w(f"| SQLite | **{_n(sqlite['create'])}** | {_n(sqlite['update'])} | {_mib(sqlite['peak_create_kib'])} / "
              f"{_mib(sqlite['peak_update_kib'])} | {_pool_peak(sqlite)} | "
              f"{sqlite['cpu_us']:.1f} + {sqlite['workers_cpu_us']:.1f} µs | {_n(sqlite.get('raw'))} rows/s | "
              f"{_pct(sqlite.get('ratio_to_raw'))} |")
        if pg:
            w(f"| PostgreSQL | **{_n(pg['create'])}** | {_n(pg['update'])} | {_mib(pg['peak_create_kib'])} / "
              f"{_mib(pg['peak_update_kib'])} | {_pool_peak(pg)} | "
              f"{pg['cpu_us']:.1f} + {pg['workers_cpu_us']:.1f} µs (+ the server's) | — | — |")
        elif imp.get("postgresql_problem"):
            w(f"| PostgreSQL | not measured: {imp['postgresql_problem']} | | | | | | |")
        w("")
        if sqlite and sqlite["workers_cpu_us"]:
            bound = 2 / ((sqlite["cpu_us"] + sqlite["workers_cpu_us"]) / 1e6)
            w(f"On SQLite a row costs {sqlite['cpu_us']:.1f} µs of CPU in the importer's process (mostly SQLite "
              f"itself) and {sqlite['workers_cpu_us']:.1f} µs in the checking processes: two idle cores could "
              f"do at most about {_n(bound)} rows/s. The wall-clock figures move with the machine's load; the "
              "CPU per row hardly does.")
            w("")
        traffic = imp.get("traffic")
        if traffic and traffic.get("during"):
            _render_traffic(w, traffic)

    # 2. Codes
    if codes:
        w("## 2. `codes issue`")
        w("")
        w(f"`flask --app app codes issue --out FILE` on the SQLite database of the last import run "
          f"({codes['codes']:,} voters, every code cleared before each run), run through Flask's CLI runner in a "
          "process of its own (`bench/codes_runs.py`): the command's own time, without the interpreter's start-up.")
        w("")
        w("| voters | codes/s | time | notices file | peak RSS |")
        w("|---|---|---|---|---|")
        w(f"| {codes['codes']:,} | **{_n(codes['rate'])}** | {codes['seconds']:.1f} s | "
          f"{codes['file_bytes'] / MB:.1f} MB ({codes['file_bytes'] / max(codes['codes'], 1):.1f} bytes per voter) | "
          f"{_mib(codes['peak_kib'])} |")
        w("")

    # 3. HTTP
    if http:
        s = http.get("settings", {})
        w("## 3. HTTP under gunicorn")
        w("")
        w(f"- **Server**: `gunicorn {http.get('gunicorn', '')} wsgi:app` — the production `gunicorn.conf.py` "
          "(JSON logs, preloaded app) with **2 sync workers** on 127.0.0.1; recycling after 5,000 requests is "
          "turned off (`--max-requests 0`) so that §4 reads workers which served the whole load. The bare route is "
          "`bench/bare_app.py`, a separate Flask app served by the very same command line, in the same run.")
        on_postgres = str(http.get("database", "")).startswith("PostgreSQL")
        on_redis = str(http.get("ratelimit", "")).startswith("Redis")
        w(f"- **Data**: {http.get('database')}, "
          + ("a fresh database created for the run and dropped at the end, " if on_postgres
             else "a temporary file, deleted at the end, ")
          + f"{http.get('voters_in_database', 0):,} voters imported with the real importer "
          f"({http.get('voters_used', 0):,} of them used by the requests). Rate limits: {http.get('ratelimit')}"
          + (", under a key prefix of the run, deleted at the end." if on_redis
             else ": each worker counts on its own (what production refuses with several workers)."))
        w(f"- **Configuration**: production-like (`ENV=development` only because production refuses the "
          f"outbox backend and http), `BCRYPT_ROUNDS={s.get('BCRYPT_ROUNDS')}`, `LOG_LEVEL=INFO` (one JSON line per "
          "request). Changed for the bench, on purpose: `CAPTCHA_ENABLED=false` (a load generator cannot read the "
          f"image); `RATELIMIT_PER_IP={s.get('RATELIMIT_PER_IP')}` (every request comes from 127.0.0.1); "
          f"`EMAIL_SENDS_PER_HOUR` and `SMS_SENDS_PER_HOUR` = {s.get('EMAIL_SENDS_PER_HOUR'):,} (the global caps, "
          "5,000/2,000 per hour by default, would stop the défi runs); `MAIL_BACKEND=outbox` (one JSON file per "
          "message, no SMTP server). `LINKS_PER_HOUR` and the per-voter limits keep their defaults: each request "
          "uses a voter within them (10 `POST /vote` per voter, one link, one regeneration, one login).")
        w(f"- **Load**: `bench/loadgen.py`, {http.get('concurrency')} connections kept busy (closed loop), one "
          f"request per connection (sync workers close it), {http.get('duration'):.0f} s per run, bounded in count "
          "too; every answer checked (status, redirect target or page content): only correct answers are counted. "
          "Sessions, CSRF tokens and réassort links are prepared beforehand with the app's own signing "
          "(`tokens.make`, the session serializer, `generate_csrf`) so that each request is the one measured and "
          "each link is fresh. The generator runs on the same cores (share of CPU below).")
        w("- **Order of a run**: bare route, `POST /vote`, home, CAPTCHA image, regeneration, then bcrypt bound, "
          "login, bcrypt bound, défi, bcrypt bound: each ratio compares neighbours in time. The **bcrypt bound** is "
          "`hashing.bcrypt_check` at the configured cost in 2 processes (as many as the workers); each bcrypt-bound "
          "endpoint is compared with the mean of the bound measured just before and just after it.")
        w("- **Two ratios**: of throughputs (what the targets name), and of CPU per request — the reference's CPU "
          "÷ the endpoint's (gunicorn workers + PostgreSQL backends, from `/proc/<pid>/stat`). The machine's other "
          "processes take cores away at random, which moves throughputs; they do not change the CPU a request "
          "costs, so the CPU ratio is the steadier one here.")
        w("")
        w("| endpoint | req/s | p50 | p99 | ÷ bare (CPU) | ÷ bcrypt bound (CPU) | CPU/req: workers + PostgreSQL "
          "| generator CPU | failed |")
        w("|---|---|---|---|---|---|---|---|---|")
        for endpoint in ("bare", "home", "captcha", "vote", "regen", "login", "defi"):
            f = h.get(endpoint)
            if not f:
                continue
            w(f"| {LABELS[endpoint]} | **{_n(f['rate'], 1)}** | {_n(f['p50_ms'], 1)} ms | {_n(f['p99_ms'], 1)} ms | "
              f"{'—' if endpoint == 'bare' else _pct(f['vs_bare']) + ' (' + _pct(f['vs_bare_cpu']) + ')'} | "
              f"{_pct(f.get('vs_bound'))}{' (' + _pct(f.get('vs_bound_cpu')) + ')' if f.get('vs_bound') else ''} | "
              f"{_n(f['server_cpu_ms'], 2)} + {_n(f['db_cpu_ms'], 2)} ms | {_pct(f['client_cpu_share'])} | "
              f"{f['failed']} of {f['completed']:,} |")
        if h.get("bound"):
            w(f"| bcrypt bound (cost {results['rounds']}, 2 processes) | **{_n(h['bound'], 2)}** checks/s | | | | | "
              f"{_n(h['bound_cpu_ms'])} ms CPU per check | | |")
        w("")
        failures = [(e, h[e]["first_failure"]) for e in LABELS if h.get(e, {}).get("failed")]
        for endpoint, what in failures:
            w(f"First failed answer of {LABELS[endpoint]}: `{what[:200]}`")
            w("")
        w("CPU/req is read from `/proc/<pid>/stat` of the two workers and of the PostgreSQL backends serving the "
          "bench database, divided by the correct answers; Redis' CPU is not counted (shared with the test suites).")
        w("")

    # 4. Memory
    if http and mem.get("rounds"):
        last = mem["rounds"][-1]
        w("## 4. Memory per worker")
        w("")
        w("Read from `/proc/<pid>/status` (VmRSS, RssAnon, RssFile) and `/proc/<pid>/smaps_rollup` (PSS, private "
          "pages) after each run's load. The app is preloaded in the gunicorn master: most of each worker's RSS "
          "is pages shared with the master and the other worker. PSS charges each shared page to its sharers in "
          "equal parts; the private pages are what one more worker really adds.")
        w("")
        w("| process (after the last run) | RSS | anonymous | file | PSS | private |")
        w("|---|---|---|---|---|---|")
        rows = [(f"app worker {pid}", v) for pid, v in last["workers"].items()]
        rows.append(("app master", last["master"]))
        rows += [(f"bare-route worker {pid}", v) for pid, v in last.get("bare_workers", {}).items()]
        for name, v in rows:
            w(f"| {name} | {_mib(v.get('VmRSS'))} ({v.get('VmRSS', 0) * 1024 / MB:.0f} MB) | "
              f"{_mib(v.get('RssAnon'))} | {_mib(v.get('RssFile'))} | {_mib(v.get('Pss'))} | {_mib(v.get('Uss'))} |")
        w("")
        w(f"Largest app worker, median over the runs: **{_mib(mem['worst_rss_kib'])}** RSS "
          f"({mem['worst_rss_kib'] * 1024 / MB:.0f} MB; target ≤ 80 MB), {_mib(mem['worst_pss_kib'])} PSS, "
          f"{_mib(mem['worst_uss_kib'])} private.")
        w("")

    # 5. Analysis
    w("## 5. Targets missed: profiles, fixes, what remains")
    w("")
    analysis = os.path.join(HERE, "analysis.md")
    if os.path.exists(analysis):
        with open(analysis, encoding="utf-8") as fh:
            w(fh.read().strip())
    else:
        w("(no analysis written yet)")
    w("")

    # 6. Capacity
    if cap:
        a = CAPACITY
        w("## 6. Capacity: 1.2 million voters at rush hour")
        w("")
        w(f"Assumptions: {a['voters']:,} voters, **{a['turnout']:.0%} turnout**, **{a['rush_share']:.0%} of all "
          f"votes in the busiest hour** (the last one), its busiest minutes at **{a['peak_factor']:.0f}×** the "
          f"hour's average, cores sized to be **{a['utilisation']:.0%} busy** then. Each voter: a login "
          f"(page, CAPTCHA image, POST with one bcrypt check) plus {a['login_retries']:.0%} mistyped retries, home, "
          "the vote-code page, its CAPTCHA image, `POST /vote`, the voting space; "
          f"**{a['reassort_share']:.0%} of them get a new code** (choice, défi form, défi POST with one bcrypt check, "
          "link, regeneration page and POST) and type it (page, image, POST). Pages that write a CAPTCHA challenge "
          "are priced like `POST /vote`, other pages like `GET /`; CPU per request is the measured one "
          "(gunicorn workers + PostgreSQL backends, §3). Not counted: nginx/TLS, Redis, the voting platform itself.")
        w("")
        w(f"- {a['voters']:,} × {a['turnout']:.0%} × {a['rush_share']:.0%} / 3,600 s = "
          f"**{cap['voters_per_s']:.1f} voters/s** on average in that hour, about {cap['requests_per_voter']:.1f} "
          "requests each;")
        w(f"- CPU per voter: **{cap['per_voter_ms']:.0f} ms** (a login attempt alone "
          f"{cap['login_attempt_ms']:.0f} ms), {cap['bcrypt_share']:.0%} of it in bcrypt at cost {results['rounds']};")
        w(f"- average load {cap['average_cores']:.1f} cores; × {a['peak_factor']:.0f} (peak) "
          f"÷ {a['utilisation']:.0%} = **{cap['cores']:.1f} → {cap['cores_rounded']} cores**: "
          f"{cap['app_cores']:.1f} for the gunicorn workers — e.g. {math.ceil(cap['app_cores'] / 8)} VMs of 8 vCPUs "
          "behind the load balancer, each with 2 × cores + 1 workers of 5 threads as `gunicorn.conf.py` does — and "
          + (f"{cap['database_cores']:.1f} for PostgreSQL (Redis not counted)."
             if str(http.get("database", "")).startswith("PostgreSQL")
             else "nothing apart for the database (SQLite works inside the workers' CPU)."))
        w("")
        w("How the answer moves with the two assumptions that matter most (cores, same method):")
        w("")
        turnouts = (0.40, 0.50, 0.60)
        w("| votes in the busiest hour | " + " | ".join(f"turnout {t:.0%}" for t in turnouts) + " |")
        w("|---|" + "---|" * len(turnouts))
        for rush in (0.10, 0.15, 0.25):
            w(f"| {rush:.0%} | " + " | ".join(
                str(capacity(h, {"turnout": t, "rush_share": rush})["cores_rounded"]) for t in turnouts) + " |")
        w("")
        w("CPU per request is the basis, not requests per second: throughputs on this shared machine are cut "
          "by whatever else runs, while the CPU a request costs is not.")
        w("")
        w("bcrypt dominates: at cost 12 each login is a fixed quarter of a second of CPU or more whatever the "
          "code does, so the number of cores scales with logins per second. Lowering `BCRYPT_ROUNDS` to 11 would "
          "halve that part, at the price of halving an attacker's cost per guess against a stolen database; the "
          "figures above keep 12.")
        w("")

    # Appendix
    w("## Appendix: every run")
    w("")
    if sqlite:
        w(f"- import SQLite, create (rows/s): {', '.join(_n(v) for v in sqlite['create_runs'])}; re-import: "
          f"{', '.join(_n(v) for v in sqlite['update_runs'])}; bare sqlite3: "
          f"{', '.join(_n(v) for v in sqlite.get('raw_runs', []))}")
    if pg:
        w(f"- import PostgreSQL, create (rows/s): {', '.join(_n(v) for v in pg['create_runs'])}; re-import: "
          f"{', '.join(_n(v) for v in pg['update_runs'])}")
    if codes:
        w(f"- codes issue (codes/s): {', '.join(_n(v) for v in codes['rate_runs'])}")
    for endpoint in ("bare", "home", "captcha", "vote", "regen", "login", "defi"):
        if h.get(endpoint):
            w(f"- {LABELS[endpoint]} (req/s): {', '.join(_n(v, 1) for v in h[endpoint]['rate_runs'])}")
    if h.get("bound_runs"):
        w(f"- bcrypt bound (checks/s): {', '.join(_n(v, 2) for v in h['bound_runs'])}")
    if mem.get("rounds"):
        w("- largest app worker RSS after each run: " + ", ".join(
            _mib(max(x.get("VmRSS", 0) for x in r["workers"].values())) for r in mem["rounds"] if r["workers"]))
    if http:
        lb, la = http.get("load_before", (0, 0, 0)), http.get("load_after", (0, 0, 0))
        w(f"- load average around the HTTP part: {lb[0]:.2f} before, {la[0]:.2f} after")
    w("")
    return "\n".join(L)
