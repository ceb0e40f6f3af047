"""Réassort served by a real gunicorn in production mode, on PostgreSQL and Redis.

Each server is started with ``gunicorn.conf.py`` on a free loopback port, waited
for with a deadline and always stopped (``tests/services.Gunicorn``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from reassort.storage import migrations
from reassort.storage.database import make_engine
from tests.services import Gunicorn, clean_environ, free_port

pytestmark = [pytest.mark.slow, pytest.mark.each_database]

HTTP_TIMEOUT = 20
WORKERS = 3


def production_environ(database_url: str, redis_url: str, prefix: str, **extra) -> dict:
    """A complete, safe production environment; mail and SMS point nowhere (nothing is sent)."""
    settings = {
        "ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "HASH_PEPPER": secrets.token_urlsafe(48),
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_KEY_PREFIX": prefix,
        "PUBLIC_URL": "https://vote.example.fr",
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "smtp.invalid",
        "SMTP_TLS": "starttls",
        "SMS_BACKEND": "http",
        "SMS_HTTP_URL": "https://sms.invalid/envoi",
        "PROXY_COUNT": 1,
        "WORKERS": WORKERS,
        "WORKER_TIMEOUT": 30,
        "ACCESS_LOG": "-",
        **extra,
    }
    return clean_environ(**{f"REASSORT_{k}": v for k, v in settings.items()})


@pytest.fixture
def production(postgres_url, redis_limits, tmp_path):
    """``make(**extra)`` → a started production gunicorn on a migrated PostgreSQL schema."""
    engine = make_engine(postgres_url)
    try:
        migrations.upgrade(engine)
    finally:
        engine.dispose()
    redis_url, prefix = redis_limits
    servers = []

    def make(**extra) -> Gunicorn:
        server = Gunicorn(tmp_path, production_environ(postgres_url, redis_url, prefix, **extra), free_port())
        servers.append(server)
        server.__enter__()
        server.wait_ready()
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.postgres
@pytest.mark.redis
def test_gunicorn_production_serves_healthz(production):
    server = production()
    response = requests.get(server.base + "/healthz", timeout=HTTP_TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["X-Request-ID"]


@pytest.mark.postgres
@pytest.mark.redis
def test_gunicorn_logs_are_json_without_tokens_or_query_strings(production):
    server = production()
    token = "WzEsMF0.aBcDeFgHiJkLmN.OpQrStUvWxYz0123456789"
    response = requests.get(f"{server.base}/reassort/lien/{token}?email=jean.dupont@example.org",
                            headers={"X-Request-ID": "req-gunicorn-42"}, timeout=HTTP_TIMEOUT)
    assert response.headers["X-Request-ID"] == "req-gunicorn-42"
    server.stop()  # flushes and closes the logs
    access = [line for line in json_lines(server.stdout()) if line["logger"] == "gunicorn.access"]
    app_lines = [line for line in json_lines(server.stderr()) if line["logger"] == "reassort.request"]
    assert {"path": "/reassort/lien/<masqué>", "request_id": "req-gunicorn-42"}.items() <= access[-1].items()
    assert {"route": "/reassort/lien/<path:token>", "request_id": "req-gunicorn-42"}.items() <= app_lines[-1].items()
    everything = server.stdout() + server.stderr()
    assert token not in everything and "jean.dupont" not in everything and "email=" not in everything
    assert all(line.startswith("{") for line in everything.splitlines() if line.strip())


def test_gunicorn_refuses_an_unsafe_environment_and_names_the_setting(tmp_path):
    env = production_environ(f"sqlite:///{tmp_path}/refus.db", "redis://127.0.0.1:6379/0", "refus",
                             SECRET_KEY="trop-courte-mais-secrete")
    with Gunicorn(tmp_path, env, free_port()) as server:
        status = server.wait_exit(timeout=30)
    assert status != 0
    assert "SECRET_KEY" in server.stderr()
    assert "trop-courte-mais-secrete" not in server.stderr() + server.stdout()


def test_gunicorn_refuses_in_memory_rate_limits(tmp_path):
    env = production_environ(f"sqlite:///{tmp_path}/refus.db", "memory://", "refus")
    with Gunicorn(tmp_path, env, free_port()) as server:
        assert server.wait_exit(timeout=30) != 0
    assert "RATELIMIT_STORAGE_URI" in server.stderr()


def post_login(base: str, n: int) -> int:
    """One voter's browser: GET the form (CSRF, CAPTCHA), then POST it; the POST's status.

    The session cookie is ``__Host-`` and Secure, which ``requests`` keeps for https:
    it is carried by hand, as the browser does behind nginx's TLS.
    """
    proxy = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    with requests.Session() as browser:
        page = browser.get(base + "/connexion", headers=proxy, timeout=HTTP_TIMEOUT)
        assert page.status_code == 200, page.text[:300]
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
        cookie = f"__Host-session={page.cookies['__Host-session']}"
        response = browser.post(base + "/connexion", headers={**proxy, "Cookie": cookie}, timeout=HTTP_TIMEOUT,
                                data={"csrf_token": csrf, "email": f"agent{n}@education.gouv.fr",
                                      "password": "pas le bon mot de passe", "captcha": "000000"})
        return response.status_code


@pytest.mark.postgres
@pytest.mark.redis
def test_rate_limit_holds_across_workers(production):
    # Sync workers serve one request at a time, so ten browsers at once must reach several of
    # them (one gthread worker could take all ten on its threads): they share the count in Redis.
    server = production(RATELIMIT_PER_IP="5 per hour", WORKER_CLASS="sync")
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda n: post_login(server.base, n), range(10)))
    assert sorted(statuses) == [200] * 5 + [429] * 5, statuses
    server.stop()
    workers = {line["pid"] for line in json_lines(server.stdout())
               if line.get("logger") == "gunicorn.access" and line["method"] == "POST"}
    assert len(workers) >= 2, "one worker answered every request: the test proves nothing"


def test_worker_timeout_logs_one_json_line_with_request_id_and_route(tmp_path):
    # Sync workers: a gthread worker stays alive while one of its threads is stuck (gunicorn.conf.py).
    env = clean_environ(REASSORT_DATABASE_URL=f"sqlite:///{tmp_path}/timeout.db", REASSORT_WORKERS="1",
                        REASSORT_WORKER_TIMEOUT="5", REASSORT_WORKER_CLASS="sync")
    with Gunicorn(tmp_path, env, free_port(), app_uri="tests.hanging_app:app") as server:
        server.wait_ready()
        try:  # gunicorn answers its own 500 as the worker goes (nginx has shown its 504 before)
            requests.get(server.base + "/test/sans-reponse", headers={"X-Request-ID": "req-bloquee-0042"},
                         timeout=60)
        except requests.ConnectionError:
            pass
        server.stop()
    aborted = [line for line in json_lines(server.stderr()) if line.get("event") == "worker_timeout"]
    assert len(aborted) == 1, server.stderr()
    assert {"logger": "reassort.request", "level": "ERROR", "request_id": "req-bloquee-0042",
            "route": "/test/sans-reponse", "method": "GET", "timeout_s": 5}.items() <= aborted[0].items()
    assert aborted[0]["duration_ms"] >= 4000


def test_a_worker_takes_no_connection_it_has_no_free_thread_for(tmp_path):
    # Two workers of two threads; three requests held (as slow sends hold their threads) take three
    # of the four.  Every other request must reach the one free thread, never wait in a busy
    # worker's queue: with gunicorn's default (1,000 connections a worker), a busy worker
    # took about half of them and kept them behind its held requests.
    fifo = tmp_path / "liberer"
    os.mkfifo(fifo)
    env = clean_environ(REASSORT_DATABASE_URL=f"sqlite:///{tmp_path}/threads.db", REASSORT_WORKERS="2",
                        REASSORT_THREADS="2", TEST_RELEASE_FIFO=str(fifo))
    with Gunicorn(tmp_path, env, free_port(), app_uri="tests.hanging_app:app") as server:
        server.wait_ready()
        held = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(3)]
        try:
            for sock in held:
                sock.sendall(b"GET /test/jusqu-au-signal HTTP/1.1\r\nHost: localhost\r\n\r\n")
            for _ in range(12):
                assert requests.get(server.base + "/healthz", timeout=5).status_code == 200
        finally:
            os.close(os.open(fifo, os.O_RDWR))  # a writer comes and goes: the held requests end
            answers = [sock.recv(4096) for sock in held]
            for sock in held:
                sock.close()
        assert all(answer.startswith(b"HTTP/1.1 200") for answer in answers), answers
