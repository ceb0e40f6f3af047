"""Where the CPU goes during one open-loop step of ``scripts/bench --rush`` (a diagnosis, not in the report).

    .venv/bin/python -m bench.rush_cpu [--flow vote] [--factor 5] [--seconds 10]

Sets up the rush's stack, measures the flow's capacity, runs one open-loop step and
prints the CPU seconds of each part: gunicorn's workers, nginx, PostgreSQL's backends,
Redis, the generator (this process and ``bench/openloop``), against the wall time × cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time

from bench import procs, rush


def _cpu_of_command(name: str) -> float:
    total = 0.0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as fh:
                    if fh.read().strip() == name:
                        total += procs.cpu_seconds(int(pid))
            except OSError:
                pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flow", default="vote")
    parser.add_argument("--factor", type=float, default=5)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--no-nginx", action="store_true")
    a = parser.parse_args()
    args = argparse.Namespace(rush_voters=40_000, rush_seconds=a.seconds, rounds=12, no_postgres=False,
                              no_redis=False, smtp_latency=20.0, patience=10.0, no_nginx=a.no_nginx)
    tmp = tempfile.mkdtemp(prefix="reassort-rushcpu-")
    os.makedirs(os.path.join(tmp, "logs"))
    bench = rush.Rush(args, tmp, os.path.join(tmp, "logs"), print)
    try:
        bench.setup()
        capacity = bench.capacity(a.flow)
        rate = capacity * a.factor
        requests, check = bench.requests_for(a.flow, int(rate * a.seconds) + 10)

        def sample() -> dict:
            # This process, and bench/openloop once it has ended (the children still running are not in it).
            me, child = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            return {"gunicorn workers": sum(procs.cpu_seconds(p) for p in bench.app_server.worker_pids()),
                    "nginx": _cpu_of_command("nginx"), "postgres": _cpu_of_command("postgres"),
                    "redis": _cpu_of_command("redis-server"),
                    "generator": me.ru_utime + me.ru_stime + child.ru_utime + child.ru_stime}
        before, t0 = sample(), time.monotonic()
        result = rush.open_loop(bench.address, requests, check, rate, a.seconds, args.patience)
        after, wall = sample(), time.monotonic() - t0
        row = rush.summarise(a.flow, a.factor, capacity, result)
        print(f"capacity {capacity:.1f}/s, offered {rate:.1f}/s, served {row['served']} (goodput "
              f"{row['goodput_share']:.0%}, p95 {row['p95_served_s']:.2f} s), shed {row['shed']} (p95 "
              f"{row['p95_shed_s'] * 1000:.0f} ms), late {result.late}, errors {result.errors}; "
              f"wall {wall:.1f} s × {os.cpu_count()} cores")
        for name in before:
            print(f"  {name:18s} {after[name] - before[name]:6.1f} s CPU")
    finally:
        bench.teardown()
        procs.stop_all()
        procs.drop_all_databases()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
