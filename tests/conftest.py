"""Shared fixtures: an app on a file-backed SQLite, then on PostgreSQL, with an injected clock, the
outbox as mail/SMS backend, a fast bcrypt, and a factory of voters with known
secrets.  ``REQUIRE_SERVICES=1`` (CI) turns skips for missing services into failures.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re

import pytest
from flask.testing import FlaskClient

from app import create_app
from reassort.adapters.messaging.outbox import read_all
from reassort.procedures import votegate
from reassort.rules.clock import FakeClock
from reassort.rules.hashing import bcrypt_hash, normalise_answer
from reassort.rules.identifiers import nir_digest, numen_digest
from reassort.rules.tokens import fresh_generation
from reassort.storage import migrations
from reassort.storage.models import Scrutin, Voter
from reassort.web.extensions import db
from tests.services import postgres_admin, postgres_url, redis_limits  # noqa: F401  (fixtures)

PASSWORD = "une phrase de passe assez longue"
ANSWER = "Éléonore"
NUMEN = "12E1234567ABC"
NIR10 = "2620875107"
CODE = "Ab3#Cd4$Ef5%"


def require_or_skip(reason: str):
    """Skip with ``reason``, or fail when CI demands every service (REQUIRE_SERVICES=1)."""
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"service requis absent : {reason}")
    pytest.skip(reason)


@pytest.fixture
def clock():
    return FakeClock()


def pytest_generate_tests(metafunc):
    """The database a test runs on: a SQLite file, and also PostgreSQL for the tests whose
    behaviour depends on the database (marked ``each_database``: locking, concurrency,
    bulk writes, migrations, what is stored)."""
    if "database" in metafunc.fixturenames:
        kinds = ["sqlite"]
        if metafunc.definition.get_closest_marker("each_database"):
            kinds.append(pytest.param("postgresql", marks=pytest.mark.postgres))
        metafunc.parametrize("database", kinds, indirect=True)


@pytest.fixture
def database(request):
    return request.param


@pytest.fixture
def settings(request, database, tmp_path, clock):
    """The test configuration; tests may change it before using ``app``.

    On a SQLite file; tests marked ``each_database`` run again on a fresh PostgreSQL
    schema of their own (skipped when PostgreSQL is unreachable, see ``tests/services.py``).
    """
    if database == "postgresql":
        database_url = request.getfixturevalue("postgres_url")
    else:
        database_url = f"sqlite:///{tmp_path}/test.db"
    return {
        "ENV": "development",
        "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
        "HASH_PEPPER": "test-pepper-0123456789abcdef0123456789",
        "DATABASE_URL": database_url,
        "OUTBOX_DIR": str(tmp_path / "outbox"),
        "MAIL_BACKEND": "outbox",
        "SMS_BACKEND": "outbox",
        "CAPTCHA_ENABLED": False,
        "BCRYPT_ROUNDS": 4,
        "RATELIMIT_STORAGE_URI": "memory://",
        "PUBLIC_URL": "https://vote.example.fr",
        "CLOCK": clock,
        "TESTING": True,
    }


class ServerLikeClient(FlaskClient):
    """The test client, closing each response once read, as a WSGI server does.

    What runs after the response (``reassort.web.after_response``: an account link, the
    development sender of queued notices) then runs before the next request, and nothing
    of the request is left open.  A test that looks between the answer and what follows
    it asks for ``buffered=False`` and reads or closes the response itself.
    """

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@pytest.fixture
def app(settings):
    application = create_app(settings)
    application.test_client_class = ServerLikeClient
    with application.app_context():
        migrations.upgrade(db.engine)
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def outbox(app):
    """Reads the messages written so far: ``outbox()`` → list of dicts."""
    return lambda: read_all(app.config["OUTBOX_DIR"])


def insert_voter(app, n: int, code=CODE, email=None, activated=True, **fields) -> Voter:
    """Insert voter number ``n`` with the known secrets above (PASSWORD, ANSWER, NUMEN, NIR10, CODE)."""
    with app.app_context():
        pepper = app.config["HASH_PEPPER"]
        voter = Voter(
            identifiant=fields.pop("identifiant", f"E{n:05d}"),
            nom=fields.pop("nom", "DUBOIS"), prenoms=fields.pop("prenoms", "Angela Claire Louise"),
            date_naissance=fields.pop("date_naissance", dt.date(1962, 8, 24)),
            lieu_naissance=fields.pop("lieu_naissance", "75107"),
            email=email or f"agent{n}@education.gouv.fr",
            numen_digest=numen_digest(pepper, fields.pop("numen", NUMEN)),
            nir_digest=nir_digest(pepper, fields.pop("nir10", NIR10)),
            code_digest=votegate.code_digest(code) if code else None,
            # Random starts, as every voter gets (tokens.fresh_generation, SEC-46).
            activation_generation=fresh_generation(),
            link_generation=fresh_generation(), link_window_start=0, links_in_window=0,
            challenge_failures=0, challenge_locked_until=0, session_epoch=0,
        )
        if activated:
            voter.password_hash = bcrypt_hash(PASSWORD, 4, pepper)
            voter.question_id = "q1"
            voter.answer_hash = bcrypt_hash(normalise_answer(ANSWER), 4, pepper)
        voter.scrutins = [Scrutin(name="CAP académique — professeurs certifiés"),
                          Scrutin(name="Comité social d'administration ministériel")]
        for key, value in fields.items():
            setattr(voter, key, value)
        with db.new_session() as s:
            s.add(voter)
            s.commit()
        return voter


@pytest.fixture
def make_voter(app):
    """Insert an activated voter with known password, answer, NUMEN, NIR and code; returns its id."""
    counter = {"n": 0}

    def make(code=CODE, email=None, activated=True, **fields):
        counter["n"] += 1
        return insert_voter(app, counter["n"], code=code, email=email, activated=activated, **fields).id

    return make


def get_voter(app, voter_id) -> Voter:
    with app.app_context():
        s = db.new_session()
        voter = s.get(Voter, voter_id)
        s.close()
        return voter


def set_fields(app, voter_id: int, **values) -> None:
    """Set columns of one voter's row, committed (a state reached some other way)."""
    with app.app_context():
        with db.new_session() as s:
            voter = s.get(Voter, voter_id)
            for name, value in values.items():
                setattr(voter, name, value)
            s.commit()


def page_text(response) -> str:
    """The page's HTML with entities decoded (apostrophes are escaped by Jinja)."""
    return html.unescape(response.get_data(as_text=True))


def csrf_of(response) -> str:
    match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', response.data) or \
        re.search(rb'name="csrf_token" value="([^"]+)"', response.data)
    assert match, "no CSRF token in page"
    return match.group(1).decode()


def post_form(client, url, data, follow_redirects=False):
    """GET the page for its CSRF token, then POST ``data`` with it."""
    page = client.get(url)
    return client.post(url, data={**data, "csrf_token": csrf_of(page)}, follow_redirects=follow_redirects)


def login(client, email, password=PASSWORD):
    return post_form(client, "/connexion", {"email": email, "password": password})


@pytest.fixture
def logged_in(client, make_voter):
    """A client logged in as a fresh voter; returns (client, voter_id, email)."""
    voter_id = make_voter()
    email = get_voter(client.application, voter_id).email
    response = login(client, email)
    assert response.status_code == 302, response.data[:500]
    return client, voter_id, email


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on loopback; ``.handler.messages`` holds what arrived."""
    from tests.servers import SMTPTestServer
    with SMTPTestServer() as server:
        yield server


@pytest.fixture
def gateway():
    """A real HTTP SMS gateway on loopback; ``.requests`` holds what arrived."""
    from tests.servers import SMSGateway
    with SMSGateway() as gw:
        yield gw
