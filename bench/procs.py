"""The outside things the bench starts and must stop: gunicorn servers, a PostgreSQL
database, Redis keys; and what it reads of processes (/proc: CPU time, RSS).

Every server is started in its own process group and registered; ``stop_all``
(also run at exit and on SIGTERM/SIGINT through ``bench/run.py``) stops each one.
Loopback only: servers bind 127.0.0.1, databases are reached on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
PG_ADMIN_URL = os.environ.get("REASSORT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REASSORT_BENCH_REDIS", "redis://127.0.0.1:6379/0")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

_RUNNING: list["Gunicorn"] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """``gunicorn [-c gunicorn.conf.py] APP`` on a free loopback port, 2 sync workers.

    The production settings file is used as it is; the command line only sets
    the address, the worker count, the worker class (sync, as the file says)
    and turns off the recycling of workers after 5,000 requests, so that the
    memory read after the load is that of workers which served all of it.
    """

    def __init__(self, app_spec: str, env: dict, log_path: str, workers: int = 2,
                 worker_class: str | None = "sync"):
        self.app_spec, self.env, self.log_path, self.workers = app_spec, env, log_path, workers
        #: ``None``: the production file's own (gthread); the §3 figures keep their sync workers.
        self.worker_class = worker_class
        self.port = free_port()
        self.address = ("127.0.0.1", self.port)
        self.process: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        cmd = [os.path.join(VENV_BIN, "gunicorn")]
        if os.path.exists(os.path.join(ROOT, "gunicorn.conf.py")):
            cmd += ["-c", "gunicorn.conf.py"]
        cmd += ["--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)]
        if self.worker_class:
            cmd += ["--worker-class", self.worker_class]
        if self.worker_class == "sync":
            cmd += ["--threads", "1"]  # gunicorn makes a sync worker with threads gthread
        return cmd + ["--max-requests", "0", self.app_spec]

    def start(self, timeout: float = 60) -> "Gunicorn":
        env = {**self.env, "REASSORT_BIND": f"127.0.0.1:{self.port}", "REASSORT_WORKERS": str(self.workers),
               "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, stdout=log, stderr=log,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        _RUNNING.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({self.app_spec}) s'est arrêté : voir {self.log_path}")
            if len(self.worker_pids()) == self.workers:
                try:
                    with socket.create_connection(self.address, timeout=0.5):
                        return self
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"gunicorn ({self.app_spec}) pas prêt en {timeout} s : voir {self.log_path}")

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        return children(self.process.pid)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
            except ProcessLookupError:
                pass
        if self in _RUNNING:
            _RUNNING.remove(self)


def stop_all() -> None:
    """Stop every server still running (error paths, signals, exit)."""
    for server in list(_RUNNING):
        server.stop()


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile, RssShmem (status), Pss and the private pages (smaps_rollup) of ``pid``, in KiB.

    ``Uss`` (private clean + dirty) is what the process alone holds: what one more
    worker costs; RSS also counts the pages shared with the master (preloaded app).
    """
    found: dict[str, int] = {}
    for path, names in ((f"/proc/{pid}/status", ("VmRSS", "RssAnon", "RssFile", "RssShmem")),
                        (f"/proc/{pid}/smaps_rollup", ("Pss", "Private_Clean", "Private_Dirty"))):
        try:
            with open(path) as fh:
                for line in fh:
                    name, _, value = line.partition(":")
                    if name in names:
                        found[name] = int(value.split()[0])
        except OSError:
            pass
    if "Private_Clean" in found:
        found["Uss"] = found.pop("Private_Clean") + found.pop("Private_Dirty", 0)
    return found


# --- PostgreSQL: a fresh database per use, dropped afterwards -------------------------------

def postgres_reachable() -> str | None:
    """``None`` when PostgreSQL answers on the loopback, else why not."""
    try:
        import psycopg
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable", reported as such
        return f"{type(exc).__name__}: {exc}".strip()


def postgres_version() -> str:
    import psycopg
    with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def create_database(prefix: str = "reassort_bench") -> str:
    """Create an empty database; returns its SQLAlchemy URL (psycopg 3)."""
    import psycopg
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    _DATABASES.append(name)
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}"


def drop_database(url: str) -> None:
    import psycopg
    name = url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if name in _DATABASES:
        _DATABASES.remove(name)


def drop_all_databases() -> None:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    for name in list(_DATABASES):
        drop_database(f"{base}/{name}")


_DATABASES: list[str] = []


def backend_pids(database_url: str) -> list[int]:
    """PostgreSQL server processes serving ``database_url``'s database (same machine)."""
    import psycopg
    name = database_url.rsplit("/", 1)[1].split("?")[0]
    with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
        return [pid for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,))]


# --- Redis ----------------------------------------------------------------------------------

def redis_reachable() -> str | None:
    try:
        import redis
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
        client.ping()
        client.close()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable", reported as such
        return f"{type(exc).__name__}: {exc}"


def redis_version() -> str:
    import redis
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        return str(client.info("server").get("redis_version", "?"))
    finally:
        client.close()


def redis_delete_prefix(prefix: str) -> int:
    import redis
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()
