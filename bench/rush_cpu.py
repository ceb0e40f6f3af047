"""Where the CPU goes in an open-loop step of ``scripts/bench --rush`` (a diagnosis, not in the report).

    .venv/bin/python -m bench.rush_cpu [--flow vote] [--factor 5] [--seconds 20] [--repeats 3]
        [--variant NAME='{"workers": 3, "REASSORT_THREADS": "4"}' ...]

Sets up the rush's stack once.  Then, ``--repeats`` times and for each variant in turn (the
server restarted on the same port when it changes, so the variants share the minutes and the
machine's drift): the flow's capacity in a closed loop, one open-loop step at ``--factor`` ×
that capacity, the capacity again; the step's goodput against the mean of the two.  For the
first closed loop and for the step, the CPU of each part per request served: gunicorn's
workers, nginx, PostgreSQL's backends, Redis, the generator (this process and
``bench/openloop``), the rest of the machine's busy time (``other``), and the share of the
cores left idle (``/proc/stat``).  What the step costs beyond the closed loop, per vote
served, is what the overload itself costs.

A variant is gunicorn's ``workers`` and any ``REASSORT_*`` or ``GUNICORN_CMD_ARGS`` setting of the
app server's environment; without ``--variant``, the production settings as they are.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile

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


def _sample(bench: rush.Rush) -> dict:
    # This process, and bench/openloop once it has ended (the children still running are not in it).
    me, child = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"gunicorn": sum(procs.cpu_seconds(p) for p in bench.app_server.worker_pids()),
            "nginx": _cpu_of_command("nginx"), "postgres": _cpu_of_command("postgres"),
            "redis": _cpu_of_command("redis-server"),
            "generator": me.ru_utime + me.ru_stime + child.ru_utime + child.ru_stime,
            "machine": _machine()}


def _machine() -> tuple[float, float]:
    """The whole machine's (busy, idle) CPU seconds since boot, from ``/proc/stat`` (idle counts iowait)."""
    with open("/proc/stat") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks[:8]) - idle) / procs.CLOCK_TICKS, idle / procs.CLOCK_TICKS


def _split(before: dict, after: dict, served: int) -> str:
    spent = {k: after[k] - before[k] for k in before if k != "machine"}
    busy, idle = (b - a for a, b in zip(before["machine"], after["machine"], strict=True))
    # The rest of the machine's busy time: softirqs charged to no process of ours, kernel
    # threads, « messages work », the machine's other services.
    spent["other"] = busy - sum(spent.values())
    per = " ".join(f"{k} {v / max(served, 1) * 1000:.2f}" for k, v in spent.items())
    return (f"idle {idle / (busy + idle):4.0%}; CPU ms per served: {per}; "
            f"all {busy / max(served, 1) * 1000:.2f}")


def _use(bench: rush.Rush, base: tuple[int, dict], variant: dict) -> None:
    """Restart the app server with ``variant`` over the rush's own settings (``base``: workers, environment)."""
    server = bench.app_server
    assert server is not None  # noqa: S101  (set up before)
    settings = dict(variant)
    server.stop()
    server.workers = int(settings.pop("workers", base[0]))
    server.env = {**base[1], **{k: str(v) for k, v in settings.items()}}
    server.start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flow", default="vote")
    parser.add_argument("--factor", type=float, default=5)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--voters", type=int, default=60_000)
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=JSON")
    parser.add_argument("--no-nginx", action="store_true")
    a = parser.parse_args()
    variants = {name: json.loads(spec) for name, _, spec in (v.partition("=") for v in a.variant)} or {"as is": {}}
    args = argparse.Namespace(rush_voters=a.voters, rush_seconds=a.seconds, rounds=12, no_postgres=False,
                              no_redis=False, smtp_latency=20.0, patience=10.0, no_nginx=a.no_nginx)
    tmp = tempfile.mkdtemp(prefix="reassort-rushcpu-")
    os.makedirs(os.path.join(tmp, "logs"))
    bench = rush.Rush(args, tmp, os.path.join(tmp, "logs"), print)
    try:
        bench.setup()
        assert bench.app_server is not None  # noqa: S101
        base, current = (bench.app_server.workers, dict(bench.app_server.env)), None
        for repeat in range(a.repeats):
            for name, variant in variants.items():
                if current != name and len(variants) > 1:
                    _use(bench, base, variant)
                    bench.capacity(a.flow)  # the restarted workers warmed up
                current = name
                s0 = _sample(bench)
                before = bench.capacity(a.flow)
                s1 = _sample(bench)
                requests, check = bench.requests_for(a.flow, int(before * a.factor * a.seconds) + 10)
                result = rush.open_loop(bench.address, requests, check, before * a.factor, a.seconds, args.patience)
                s2 = _sample(bench)
                after = bench.capacity(a.flow)
                row = rush.summarise(a.flow, a.factor, (before + after) / 2, result)
                print(f"{repeat + 1} {name}: capacity {before:.1f} then {after:.1f}/s, goodput {row['goodput']:.1f}/s "
                      f"({row['goodput_share']:.0%}), p95 {row['p95_served_s']:.2f} s, shed {row['shed']}, "
                      f"late {result.late}, errors {result.errors}", flush=True)
                print(f"    closed loop: {_split(s0, s1, round(before * min(10.0, a.seconds)))}")
                print(f"    step:        {_split(s1, s2, len(result.served))}", flush=True)
    finally:
        bench.teardown()
        procs.stop_all()
        procs.drop_all_databases()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
