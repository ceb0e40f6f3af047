"""Profile one endpoint under load: py-spy samples both gunicorn workers.

Sets up the same servers and data as the HTTP bench (``bench/http_bench.py``),
loads ``ENDPOINT`` for ``--seconds`` while ``py-spy record`` samples each worker,
then prints where the time goes (inclusive share of samples per function, ours
first) and leaves the collapsed stacks and a flame graph in ``bench/out/profile/``.
``--idle`` keeps the samples of a worker waiting (database, Redis, socket), to see
latency rather than CPU.

    .venv/bin/python -m bench.profile vote --seconds 20 [--idle] [--rounds 12]
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time

from bench import loadgen, procs
from bench.http_bench import CONCURRENCY, ENDPOINTS, HttpBench, Options

OUT = os.path.join(procs.ROOT, "bench", "out", "profile")


def summarise(collapsed: list[str], top: int) -> str:
    """Inclusive and self share of the samples per function (``file:function``)."""
    inclusive, own = collections.Counter(), collections.Counter()
    total = 0
    for line in collapsed:
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0] + ")" if " (" in f else f
                  for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    lines = [f"{total} samples", "", "inclusive  self  function (file)"]
    for frame, n in inclusive.most_common(top):
        lines.append(f"{100 * n / total:8.1f}% {100 * own[frame] / total:5.1f}%  {frame}")
    lines += ["", "self time, top:"]
    for frame, n in own.most_common(top // 2):
        lines.append(f"{100 * n / total:8.1f}%  {frame}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("endpoint", choices=[e for e in ENDPOINTS if e not in ("bcrypt",)])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--voters", type=int, default=20_000)
    parser.add_argument("--idle", action="store_true", help="garder les échantillons d'attente (E/S)")
    parser.add_argument("--top", type=int, default=45)
    args = parser.parse_args(argv)
    os.makedirs(OUT, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="reassort-profile-")
    bench = HttpBench(Options(voters=args.voters, duration=args.seconds, runs=1, rounds=args.rounds),
                      tmp, OUT, lambda text: print(text, file=sys.stderr))
    spies = []
    try:
        bench.setup()
        # Warm the workers up (templates compiled, connections opened) before sampling.
        requests, check = bench.requests_for(args.endpoint, 40)
        loadgen.run(bench.app_server.address, requests, check, concurrency=CONCURRENCY, duration=5,
                    max_requests=40)
        requests, check = bench.requests_for(args.endpoint, 100_000 if args.endpoint != "regen" else 8_000)
        server = bench.bare_server if args.endpoint == "bare" else bench.app_server
        for pid in server.worker_pids():
            raw = os.path.join(OUT, f"{args.endpoint}-{pid}.txt")
            cmd = [os.path.join(procs.VENV_BIN, "py-spy"), "record", "--pid", str(pid), "--format", "raw",
                   "--rate", "250", "--duration", str(int(args.seconds) + 2), "--output", raw, "--nonblocking"]
            if args.idle:
                cmd.append("--idle")
            spies.append((subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), raw))
        time.sleep(1)
        result = loadgen.run(server.address, requests, check, concurrency=CONCURRENCY,
                             duration=args.seconds, max_requests=len(requests))
        print(f"{args.endpoint}: {result.rate:.1f} req/s, {result.failed} en échec", file=sys.stderr)
        lines = []
        for spy, raw in spies:
            spy.wait(timeout=args.seconds + 60)
            with open(raw) as fh:
                lines += fh.read().splitlines()
        collapsed = os.path.join(OUT, f"{args.endpoint}{'-idle' if args.idle else ''}.collapsed.txt")
        with open(collapsed, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        summary = summarise(lines, args.top)
        with open(os.path.join(OUT, f"{args.endpoint}{'-idle' if args.idle else ''}.summary.txt"), "w") as fh:
            fh.write(summary + "\n")
        print(summary)
    finally:
        for spy, _raw in spies:
            if spy.poll() is None:
                spy.kill()
        bench.teardown()
        procs.stop_all()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
