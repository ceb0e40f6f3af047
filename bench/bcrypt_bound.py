"""The bcrypt bound: how many bcrypt checks per second the machine's cores do.

A login POST and a question défi POST each do exactly one bcrypt check, at
``BCRYPT_ROUNDS`` (12 by default), so on the same cores they can never go
faster than this.  Measured with ``hashing.bcrypt_check`` itself (keyed
pre-hash included), in as many processes as gunicorn has workers (2), each
checking for ``seconds``; the bound is the sum of their rates.
"""

from __future__ import annotations

import multiprocessing
import sys
import time

#: The bound does not depend on the key: any pepper of production's length will do.
PEPPER = "bench-pepper-" + "0123456789abcdef" * 3


def _checker(rounds: int, seconds: float, start_at: float, results) -> None:
    from reassort.rules.hashing import bcrypt_check, bcrypt_hash

    hashed = bcrypt_hash("une phrase de passe assez longue", rounds, PEPPER)
    while time.time() < start_at:  # every process starts together
        time.sleep(0.005)
    count, t0, cpu0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        assert bcrypt_check("une phrase de passe assez longue", hashed, rounds, PEPPER)
        count += 1
    results.put((count / (time.perf_counter() - t0), (time.process_time() - cpu0) / max(count, 1)))


def measure(rounds: int = 12, processes: int = 2, seconds: float = 5.0) -> tuple[float, float]:
    """bcrypt checks per second at cost ``rounds`` with ``processes`` processes, and CPU seconds per check."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start_at = time.time() + 2.0  # after the hash each process makes first
    workers = [context.Process(target=_checker, args=(rounds, seconds, start_at, results), daemon=True)
               for _ in range(processes)]
    for worker in workers:
        worker.start()
    try:
        measured = [results.get(timeout=seconds + 60) for _ in workers]
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
    return sum(rate for rate, _ in measured), sum(cpu for _, cpu in measured) / len(measured)


if __name__ == "__main__":
    rate, cpu = measure(seconds=float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)
    print(f"{rate:.2f} checks/s, {cpu * 1000:.0f} ms CPU per check")
