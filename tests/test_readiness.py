"""Probes (SPEC §3): ``/healthz`` says the process is alive, ``/readyz`` that it can serve voters.

A liveness probe that reached PostgreSQL made every VM « dead » at once during a
database blip; a readiness probe that only ran ``SELECT 1`` said « ready » on a
VM with no schema, which then answered 500 to every vote.
"""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import text

from app import create_app
from reassort.storage import migrations, schema
from reassort.web.extensions import db
from tests.servers import free_port

pytestmark = pytest.mark.each_database

DEAD_DATABASE = "postgresql+psycopg://reassort:motdepasse@127.0.0.1:{port}/reassort?connect_timeout=2"


@contextlib.contextmanager
def second_app(settings):
    """Another app on the test's database, its engine disposed at the end (not left to the
    garbage collector, whose psycopg ResourceWarning would fail whichever test it ran in)."""
    other = create_app(settings)
    try:
        yield other
    finally:
        with other.app_context():
            db.engine.dispose()


@pytest.fixture
def unmigrated(settings):
    """An app on an empty database: no schema at all."""
    with second_app(settings) as application:
        yield application


def probe(app, path):
    response = app.test_client().get(path)
    assert response.headers["Cache-Control"] == "no-store"
    return response.status_code, response.get_json()


def test_healthz_says_alive_even_without_database_nor_redis(settings):
    settings.update(DATABASE_URL=DEAD_DATABASE.format(port=free_port()),
                    RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=1")
    assert probe(create_app(settings), "/healthz") == (200, {"status": "ok"})


def test_readyz_ok_when_database_schema_and_limits_answer(app):
    assert probe(app, "/healthz") == (200, {"status": "ok"})
    assert probe(app, "/readyz") == (200, {"status": "ok"})


def test_readyz_503_when_the_schema_was_never_created(unmigrated):
    assert probe(unmigrated, "/healthz") == (200, {"status": "ok"})
    assert probe(unmigrated, "/readyz") == (503, {"status": "error", "failed": ["schema"]})


def test_readyz_503_when_the_schema_is_behind_the_code(app):
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0000_ancienne'"))
    assert probe(app, "/readyz") == (503, {"status": "error", "failed": ["schema"]})


def test_readyz_503_when_the_database_is_unreachable(settings):
    settings["DATABASE_URL"] = DEAD_DATABASE.format(port=free_port())
    status, body = probe(create_app(settings), "/readyz")
    assert (status, body) == (503, {"status": "error", "failed": ["database"]})


def test_readyz_degraded_not_failed_when_redis_is_away_and_limits_fall_back(app, settings):
    settings["RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=1"
    with second_app(settings) as away:
        assert probe(away, "/readyz") == (200, {"status": "degraded", "degraded": ["ratelimit_storage"]})


def test_readyz_503_when_redis_is_away_and_the_fallback_is_off(app, settings):
    settings.update(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0?socket_connect_timeout=1",
                    RATELIMIT_MEMORY_FALLBACK=False)
    with second_app(settings) as away:
        assert probe(away, "/readyz") == (503, {"status": "error", "failed": ["ratelimit_storage"]})


def test_readyz_says_nothing_of_the_failure_beyond_its_name(settings):
    settings["DATABASE_URL"] = DEAD_DATABASE.format(port=free_port())
    response = create_app(settings).test_client().get("/readyz")
    assert b"motdepasse" not in response.data and b"127.0.0.1" not in response.data


def test_probes_need_no_login_and_answer_every_poll(app):
    # (Flask-Limiter's ``limiter`` is one object for every app of the process: a test
    # giving it application-wide limits would leave them to the following tests.)
    client = app.test_client()
    assert {client.get(path).status_code for path in ("/healthz", "/readyz") for _ in range(40)} == {200}


def test_expected_heads_are_alembics_heads():
    from alembic.script import ScriptDirectory

    alembic_heads = ScriptDirectory.from_config(migrations.alembic_config()).get_heads()
    assert schema.expected_heads() == frozenset(alembic_heads)
