"""Benchmarks of Réassort, run by ``scripts/bench [--quick]`` (see ``bench/run.py``).

Nothing here is imported by the app: the bench drives it from outside (CLI
functions in subprocesses, gunicorn on the loopback) and writes
``docs/benchmarks.md``.
"""
