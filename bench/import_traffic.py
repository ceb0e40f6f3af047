"""A re-import during the poll: voters' requests served while every voter's row is rewritten.

Sets up what the HTTP bench does (``bench/http_bench.py``: a fresh PostgreSQL
database, ``--voters`` voters imported with the real importer, gunicorn with 2
sync workers on the loopback, rate limits on Redis), with the ``DATABASE_URL`` of
``deploy/reassort.env.example`` (``lock_timeout`` 5 s, ``statement_timeout``
15 s).  Two loads run side by side — ``POST /vote`` (reads the voter, writes an
audit row) and ``POST /reassort/regenerer`` (updates the voter's row: the one
the import rewrites too) — first for ``--baseline`` seconds alone, then during a
re-import of the register in which every voter changes (their NUMEN digests:
the generated file's NUMENs differ from the one the bench gives every voter), as
``voters import`` runs it.  Every answer is checked; the report gives, for each
load, the requests served, the failed ones (5xx, timeouts), p50/p99/max latency,
alone and during the import, and the import's own time.

    .venv/bin/python -m bench.import_traffic [--voters 100000] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time

from bench import import_bench, loadgen, procs
from bench.http_bench import CONCURRENCY, HttpBench, Options

#: What deploy/reassort.env.example puts in DATABASE_URL.
TIMEOUTS = "options=-c%20lock_timeout%3D5000%20-c%20statement_timeout%3D15000"
LOADS = ("vote", "regen")


class TrafficBench(HttpBench):
    """The HTTP bench's setup, with the sample environment's timeouts in the database URL."""

    def setup(self) -> None:
        create = procs.create_database

        def with_timeouts(prefix: str = "reassort_bench") -> str:
            url = create(prefix)
            return url + ("&" if "?" in url else "?") + TIMEOUTS

        procs.create_database = with_timeouts
        try:
            super().setup()
        finally:
            procs.create_database = create
        if not self.database_url.startswith("postgresql"):
            raise RuntimeError("ce banc demande PostgreSQL (verrous de lignes, délais)")

    def prepare(self, counts: dict[str, int]) -> dict:
        """The requests of each load, prepared beforehand (sessions, CSRF tokens, links): each voter once."""
        return {name: self.requests_for(name, max(20, count)) for name, count in counts.items()}

    def loads(self, prepared: dict, seconds: float, stop: threading.Event | None = None) -> dict:
        """Both loads at once, for ``seconds``, until ``stop`` or their requests' end; their figures."""
        results: dict = {}

        def run(name: str) -> None:
            requests, check = prepared[name]
            results[name] = loadgen.run(self.app_server.address, requests, check, concurrency=CONCURRENCY // 2,
                                        duration=seconds, max_requests=len(requests), stop=stop)

        threads = [threading.Thread(target=run, args=(name,), name=f"traffic-{name}") for name in prepared]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return {name: _figures(result) for name, result in results.items()}


def _figures(result: loadgen.RunResult) -> dict:
    return {"served": result.ok, "failed": result.failed, "completed": result.completed,
            "seconds": result.elapsed, "rate": result.rate,
            "p50_ms": loadgen.percentile(result.latencies, 50) * 1000,
            "p99_ms": loadgen.percentile(result.latencies, 99) * 1000,
            "max_ms": max(result.latencies, default=0.0) * 1000,
            "statuses": {str(k): v for k, v in result.statuses.items()},
            "first_failure": result.first_failure[:300]}


def reimport(bench: TrafficBench, csv_path: str) -> dict:
    """``voters import`` of ``csv_path`` on the bench's database, timed."""
    from reassort import importer
    from reassort.web.extensions import db

    with bench.app.app_context():
        session = db.new_session()
        start = time.perf_counter()
        report = importer.import_voters(session, csv_path, bench.settings["HASH_PEPPER"])
        seconds = time.perf_counter() - start
        session.close()
        db.engine.dispose()
    if not report.ok:
        raise RuntimeError(f"ré-import impossible : {report.errors[:3]}")
    return {"seconds": seconds, "rows": report.rows, "changed": report.changed, "created": report.created,
            "unchanged": report.unchanged, "batch": importer.APPLY_BATCH}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voters", type=int, default=100_000)
    parser.add_argument("--baseline", type=float, default=10.0, help="secondes de charge sans import")
    parser.add_argument("--json", help="fichier où écrire les chiffres")
    args = parser.parse_args(argv)
    problem = procs.postgres_reachable()
    if problem:
        print(f"PostgreSQL injoignable : {problem}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="reassort-traffic-") as tmp:
        logdir = os.path.join(tmp, "logs")
        os.makedirs(logdir)
        bench = TrafficBench(Options(voters=args.voters, duration=args.baseline, runs=1, rounds=4),
                             tmp, logdir, lambda text: print(text, file=sys.stderr))
        try:
            bench.setup()
            csv_path = os.path.join(tmp, "reimport.csv")
            import_bench.generate_csv(csv_path, args.voters, seed=7)  # the file of the first import
            results = {"voters": args.voters, "load_start": os.getloadavg(),
                       "database_url_options": TIMEOUTS.replace("%20", " ").replace("%3D", "=")}
            results["alone"] = bench.loads(bench.prepare({"vote": 600 * int(args.baseline), "regen":
                                                          300 * int(args.baseline)}), args.baseline)
            # Enough requests for the import's time at the rates just measured, three times over; what is
            # left of the voters otherwise (each regeneration needs a voter of its own, each vote a tenth).
            left = len(bench.voters) - bench._next_voter
            seconds = 3 * (10 + args.voters / 5000)
            wanted = {name: int(results["alone"][name]["rate"] * seconds) + 100 for name in LOADS}
            regen = min(wanted["regen"], left // 2)
            prepared = bench.prepare({"regen": regen, "vote": min(wanted["vote"], (left - regen) * 10)})
            stop = threading.Event()
            during: dict = {}
            traffic = threading.Thread(target=lambda: during.update(bench.loads(prepared, 3600.0, stop)),
                                       name="traffic")
            traffic.start()
            time.sleep(1.0)  # the loads are running before the import starts
            try:
                results["import"] = reimport(bench, csv_path)
            finally:
                stop.set()
                traffic.join()
            results["during"] = during
            results["load_end"] = os.getloadavg()
        finally:
            bench.teardown()
    for phase in ("alone", "during"):
        for name, fig in results[phase].items():
            print(f"{phase:7s} {name:6s}: {fig['served']:6d} servies, {fig['failed']:4d} en échec, "
                  f"{fig['rate']:7.1f} req/s, p50 {fig['p50_ms']:6.1f} ms, p99 {fig['p99_ms']:7.1f} ms, "
                  f"max {fig['max_ms']:7.1f} ms {fig['statuses']}")
    imp = results["import"]
    print(f"ré-import : {imp['rows']:,d} lignes, {imp['changed']:,d} électeurs modifiés en {imp['seconds']:.1f} s "
          f"(lots de {imp['batch']})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
