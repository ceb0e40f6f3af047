"""One measured run of ``bench/import_bench.py``, in a process of its own, as JSON.

``bench/run.py`` starts this once per run so that each run's memory is its own.
It reuses ``import_bench.run_import`` as it is (migrate a fresh database, import
the CSV, re-import it) and wraps ``importer.import_voters`` to read, for each of
the two phases, its time, the process's peak RSS (``VmHWM``, reset before the
phase through ``/proc/self/clear_refs``), the peak RSS of its largest checking
process (``RUSAGE_CHILDREN``: the pool's workers end with each import), and the
CPU seconds of both (the machine's load moves wall times, hardly CPU times).  On SQLite it then times
``import_bench.raw_sqlite_insert`` (a bare ``sqlite3`` executemany of the very
same stored rows) — after the peak was read, since that one loads every row.

    python -m bench.import_runs --csv F.csv --url sqlite:///X.db --rows N --json OUT.json [--raw]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import resource
import sys
import time


def _status_kib(name: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def measured(import_voters, phases: list[dict]):
    """``importer.import_voters`` recording each call's rows, seconds and peak RSS."""
    @functools.wraps(import_voters)
    def wrapper(*args, **kwargs):
        base = _status_kib("VmRSS")
        reset = _reset_peak()
        cpu, children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
        load = os.getloadavg()[0]
        start = time.perf_counter()
        report = import_voters(*args, **kwargs)
        seconds = time.perf_counter() - start
        phases.append({"rows": report.rows, "created": report.created, "changed": report.changed,
                       "unchanged": report.unchanged, "seconds": seconds, "rss_before_kib": base,
                       "peak_kib": _status_kib("VmHWM"), "peak_is_phase_only": reset,
                       "workers_peak_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
                       "cpu_seconds": _cpu(resource.RUSAGE_SELF) - cpu,
                       "workers_cpu_seconds": _cpu(resource.RUSAGE_CHILDREN) - children,
                       "load_before": load})
        return report
    return wrapper


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--json", required=True)
    parser.add_argument("--raw", action="store_true", help="also time the bare sqlite3 executemany")
    args = parser.parse_args(argv)

    from bench import import_bench
    from reassort import importer

    phases: list[dict] = []
    importer.import_voters = measured(importer.import_voters, phases)
    with contextlib.redirect_stdout(sys.stderr):  # run_import's own lines go to the log
        import_bench.run_import(args.url, args.csv, "SQLite" if args.url.startswith("sqlite") else "PostgreSQL")
    result = {"phases": phases}
    if args.raw:
        db_path = args.url[len("sqlite:///"):]
        result["raw_seconds"] = import_bench.raw_sqlite_insert(db_path, args.rows)
        os.unlink(db_path + ".raw")
    with open(args.json, "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
