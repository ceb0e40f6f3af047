"""A Redis outage never refuses every voter: the limits fall back to each worker's memory.

Decided in ``reassort.web.rate_fallback`` (docs/operations.md): while Redis is
away, the same limits are counted in the worker's memory — they still hold, per
worker — the switch and the return are logged, the requests served meanwhile
counted, and the reservations of ``reassort.procedures.quotas`` follow.  The
Redis stopped here is one this test starts on a free port, never the shared one.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import redis as redis_client
from limits.storage import MemoryStorage

from reassort.procedures import quotas
from reassort.web import rate_fallback
from reassort.web.extensions import limiter
from tests.conftest import get_voter, login, require_or_skip
from tests.servers import free_port


class OwnRedis:
    """A ``redis-server`` of this test's own, on ``port``, without persistence."""

    def __init__(self, port: int):
        self.port = port
        self.process: subprocess.Popen | None = None

    def start(self) -> OwnRedis:
        executable = shutil.which("redis-server")
        if executable is None:
            require_or_skip("redis-server absent")
        self.process = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # Its log says when it listens: read it rather than poll the port.
        for line in self.process.stdout:
            if "Ready to accept connections" in line:
                return self
        raise AssertionError(f"redis-server arrêté : {self.process.wait(5)}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def keys(self) -> int:
        client = redis_client.Redis(port=self.port, socket_connect_timeout=2)
        try:
            return client.dbsize()
        finally:
            client.close()


@pytest.fixture
def own_redis():
    server = OwnRedis(free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(settings, own_redis):
    settings.update(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{own_redis.port}/0"
                                          "?socket_connect_timeout=1&socket_timeout=1",
                    RATELIMIT_PER_IP="3 per minute")
    return settings


def log_lines(capsys, logger="reassort.ratelimit") -> list[dict]:
    return [line for line in (json.loads(raw) for raw in capsys.readouterr().err.splitlines() if raw.startswith("{"))
            if line["logger"] == logger]


def wrong_login(client, email) -> int:
    return login(client, email, "pas le bon mot de passe").status_code


def test_redis_outage_limits_fall_back_to_worker_memory_and_still_hold(app, client, make_voter, own_redis,
                                                                       capsys):
    email = get_voter(app, make_voter()).email
    assert wrong_login(client, email) == 200
    assert own_redis.keys() > 0, "the limit was not counted in Redis: the test proves nothing"
    capsys.readouterr()

    own_redis.stop()
    # Served, not refused: counted in this worker's memory, and the limit still holds there.
    assert [wrong_login(client, email) for _ in range(4)] == [200, 200, 200, 429]
    switched = log_lines(capsys)
    assert [line["event"] for line in switched] == ["ratelimit_fallback_on"]
    assert switched[0]["level"] == "WARNING" and "mémoire" in switched[0]["msg"]
    assert rate_fallback.in_fallback() and rate_fallback.outage()["requests"] >= 4  # the GETs count too


def test_redis_outage_ends_when_redis_is_back_logged_with_what_was_counted(app, client, make_voter, own_redis,
                                                                           clock, capsys, monkeypatch):
    email = get_voter(app, make_voter()).email
    own_redis.stop()
    assert wrong_login(client, email) == 200
    clock.advance(90)
    own_redis.start()  # the same address, empty: a restarted Redis
    # Flask-Limiter tries Redis again after a growing delay on the real clock: try it now.
    monkeypatch.setattr(limiter, "_Limiter__should_check_backend", lambda: True)
    capsys.readouterr()
    assert wrong_login(client, email) == 200
    back = log_lines(capsys)
    assert [line["event"] for line in back] == ["ratelimit_fallback_off"]
    assert back[0]["outage_s"] == 90.0 and back[0]["requests_in_memory"] >= 1
    assert not rate_fallback.in_fallback()
    assert own_redis.keys() > 0  # counting in Redis again


def test_redis_outage_reservations_follow_the_fallback(app, own_redis, capsys):
    own_redis.stop()
    with app.test_request_context():
        # The first to find Redis away is a reservation, not a limited route: it switches too.
        held = [quotas.reserve("2 per hour", "global-sends", "sms") for _ in range(2)]
        assert all(held) and isinstance(held[0].storage, MemoryStorage)
        held[0].give_back()  # given back where it was counted
        assert quotas.reserve("2 per hour", "global-sends", "sms") is not None
        assert quotas.reserve("2 per hour", "global-sends", "sms") is None  # the cap holds in memory
    assert [line["event"] for line in log_lines(capsys)] == ["ratelimit_fallback_on"]


def test_redis_outage_without_fallback_reservations_refuse(settings, own_redis):
    from limits.errors import StorageError

    from app import create_app

    settings["RATELIMIT_MEMORY_FALLBACK"] = False
    application = create_app(settings)
    own_redis.stop()
    with application.test_request_context():
        with pytest.raises(StorageError):
            quotas.reserve("2 per hour", "global-sends", "sms")
