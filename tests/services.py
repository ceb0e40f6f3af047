"""The outside services tests may use: PostgreSQL, Redis, and a real gunicorn.

- ``postgres_url``: a fresh schema per test on ``REASSORT_TEST_DATABASE_URL``
  (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), reached through
  ``search_path`` in the URL, dropped afterwards with whatever still uses it;
- ``redis_limits``: the Redis URL (``REASSORT_TEST_REDIS_URL``) and a key prefix of
  this test's own, whose keys are deleted afterwards;
- ``Gunicorn``: a gunicorn started with ``gunicorn.conf.py`` on a free loopback port,
  bounded in time and always stopped.

When a service is absent the test is skipped (failed under ``REQUIRE_SERVICES=1``).
Imported by ``conftest.py``; nothing here knows the app.
"""

from __future__ import annotations

import gc
import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import weakref

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import Pool

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSTGRES_URL = os.environ.get("REASSORT_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REASSORT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _require_or_skip(reason: str):
    from tests.conftest import require_or_skip
    require_or_skip(reason)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@pytest.fixture(scope="session")
def postgres_admin():
    """An engine on the test database, or ``None`` when PostgreSQL cannot be reached."""
    url = make_url(POSTGRES_URL).update_query_dict({"connect_timeout": "3"})
    engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:  # cannot connect: "absent", reported by the fixtures that need it
        engine.dispose()
        yield None
        return
    yield engine
    engine.dispose()


def schema_url(schema: str) -> str:
    """The test database URL, connected to ``schema`` only and tagged with its name."""
    url = make_url(POSTGRES_URL).update_query_dict({
        "options": f"-csearch_path={schema}",
        "application_name": schema,
    })
    return url.render_as_string(hide_password=False)


#: The DBAPI connections opened on each test schema, by schema name (see ``_track``).
_OPENED: dict[str, weakref.WeakSet] = {}


@event.listens_for(Pool, "connect")
def _track(dbapi_connection, _record):
    # psycopg connections carry the schema name as application_name (``schema_url``).
    info = getattr(dbapi_connection, "info", None)
    name = info.parameter_status("application_name") if hasattr(info, "parameter_status") else None
    if name in _OPENED:
        _OPENED[name].add(dbapi_connection)


@pytest.fixture
def postgres_url(postgres_admin):
    """The URL of an empty schema of this test's own on PostgreSQL."""
    if postgres_admin is None:
        _require_or_skip(f"PostgreSQL injoignable sur {_shown(POSTGRES_URL)}")
    schema = "t_" + secrets.token_hex(6)
    with postgres_admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    _OPENED[schema] = weakref.WeakSet()
    try:
        yield schema_url(schema)
    finally:
        with postgres_admin.connect() as connection:
            if _backends(connection, schema, "idle in transaction%"):
                # A session nobody closed (in the test or in the app) still holds its
                # connection in a transaction.  Collect it now, while its server end still
                # answers, so that psycopg's ResourceWarning about it fails the test that
                # left it rather than a later one.  Twice: the first pass gives the
                # connection back to its pool, the second frees both.
                gc.collect()
                gc.collect()
            # Connections merely idle in the pool of an app nobody disposed: close them.
            for dbapi_connection in list(_OPENED.pop(schema)):
                dbapi_connection.close()
            connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = :name AND pid <> pg_backend_pid()"),
                               {"name": schema})
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _backends(connection, schema: str, state: str = "%") -> int:
    """How many connections to ``schema`` (they carry its name) are open in ``state``."""
    return connection.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                                  "AND coalesce(state, '') LIKE :state AND pid <> pg_backend_pid()"),
                             {"name": schema, "state": state})


@pytest.fixture
def redis_limits():
    """``(url, prefix)``: Redis for the limiter, with a key prefix flushed after the test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError:
        client.close()
        _require_or_skip(f"Redis injoignable sur {REDIS_URL}")
    prefix = "reassort-test-" + secrets.token_hex(6)
    try:
        yield REDIS_URL, prefix
    finally:
        keys = list(client.scan_iter(match=f"*{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_environ(**settings) -> dict:
    """This process's environment without any REASSORT_ variable, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REASSORT_")}
    env.update({k: str(v) for k, v in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Gunicorn:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` in its own process group, output to files.

    Use as a context manager: leaving it stops the server (TERM, then KILL).
    """

    def __init__(self, tmp_path, env: dict, port: int, app_uri: str = "wsgi:app"):
        self.port = port
        self.app_uri = app_uri
        self.base = f"http://127.0.0.1:{port}"
        self.stdout_path = tmp_path / "gunicorn.out"
        self.stderr_path = tmp_path / "gunicorn.err"
        self.env = {**env, "REASSORT_BIND": f"127.0.0.1:{port}"}
        self.process = None

    def __enter__(self):
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen([gunicorn, "-c", "gunicorn.conf.py", self.app_uri], cwd=ROOT,
                                            env=self.env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def wait_exit(self, timeout: float = 30) -> int:
        """The exit status of a server expected to stop by itself (refused configuration)."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"gunicorn ne s'est pas arrêté en {timeout} s :\n{self.stderr()}")

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until ``/healthz`` answers (whatever its status); fail with gunicorn's output otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn s'est arrêté (statut {self.process.returncode}) :\n{self.stderr()}")
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                return
            except OSError:
                time.sleep(0.1)  # polling a real server's port: there is no clock to inject
            finally:
                connection.close()
        self.stop()
        pytest.fail(f"gunicorn pas prêt en {timeout} s :\n{self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")
