"""Faults: the database or the limiter's storage gone or locked, a regeneration cut
in the middle, SMTP and SMS failing again and again.

What is promised (SPEC §2 "Bad input anywhere", README): a 503 page in French
saying nothing was changed — and indeed nothing changed, neither in the database
nor in the browser's session; a regeneration either happened entirely or not at
all (never the old code dead without a new one stored); repeated delivery
failures leak no file descriptor or thread and charge no counter.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import create_engine, event, func, text
from sqlalchemy import select as sql_select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from reassort.procedures import links, recovery, votegate
from reassort.rules import tokens
from reassort.storage import database
from reassort.storage.models import AuditEvent
from reassort.web.extensions import db
from tests.conftest import CODE, NUMEN, csrf_of, get_voter, login, page_text
from tests.flows import LINK_RE, PERSONAL_EMAIL, ask_link, code_on_page, last_link, open_link, regenerate
from tests.fuzzing import OPEN_LIMITS
from tests.servers import free_port

pytestmark = pytest.mark.each_database

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNAVAILABLE = "Service momentanément indisponible"
SEND_FAILED = "L'envoi du message a échoué de notre côté"
#: How long a request waits for a lock before the database gives up (ms).
LOCK_WAIT_MS = 300


@pytest.fixture
def settings(settings):
    settings.update(OPEN_LIMITS)
    url = make_url(settings["DATABASE_URL"])
    if url.get_backend_name() == "postgresql":
        # Without a lock_timeout a request would wait for a lock for ever (until the
        # worker is killed): production should set one too (docs/reliability.md).
        options = f"{url.query.get('options', '')} -c lock_timeout={LOCK_WAIT_MS}".strip()
        settings["DATABASE_URL"] = url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    return settings


def events(app, name: str) -> int:
    with app.app_context():
        with db.new_session() as s:
            return s.scalar(sql_select(func.count()).select_from(AuditEvent).where(AuditEvent.event == name))


def state(app, voter_id) -> tuple:
    v = get_voter(app, voter_id)
    return v.code_digest, v.link_generation, v.links_in_window, v.challenge_failures, v.session_epoch


def code_works(app, voter_id, code) -> bool:
    with app.app_context():
        return votegate.code_matches(get_voter(app, voter_id), code)


def session_of(client) -> dict:
    with client.session_transaction() as s:
        return dict(s)


# -- the database gone --------------------------------------------------------------------

@contextlib.contextmanager
def database_gone(app, tmp_path):
    """Point the running app at a database that cannot be reached, then give it back."""
    kept = app.extensions["reassort_db"]
    if kept[0].dialect.name == "sqlite":
        url = f"sqlite:///{tmp_path}/absent/dossier/reassort.db"  # the folder does not exist
    else:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/absente?connect_timeout=2"
    broken = database.make_engine(url)
    app.extensions["reassort_db"] = (broken, sessionmaker(broken, expire_on_commit=False))
    try:
        yield
    finally:
        app.extensions["reassort_db"] = kept
        broken.dispose()


def test_database_gone_every_page_is_a_french_503_and_nothing_changes(app, logged_in, outbox, tmp_path):
    client, voter_id, email = logged_in
    ask_link(client)
    link = last_link(outbox())
    before = state(app, voter_id)
    csrf = csrf_of(client.get("/vote"))
    # Taken after the last page seen with the database up: that page may sign the session
    # again (same content, the next second's timestamp); the pages below must not.
    cookie = client.get_cookie("reassort_session").value
    with app.app_context():
        activation = links.make(tokens.ACTIVATION, voter_id, 0)
    stranger = app.test_client()
    stranger_csrf = csrf_of(stranger.get("/connexion"))
    with database_gone(app, tmp_path):
        answers = {
            "GET /": client.get("/"),
            "POST /vote": client.post("/vote", data={"code": CODE, "csrf_token": csrf}),
            "POST /reassort/question-defi": client.post("/reassort/question-defi", data={"csrf_token": csrf}),
            "GET link": open_link(client, link),
            "POST /connexion": stranger.post("/connexion", data={"email": email, "password": "x",
                                                                  "csrf_token": stranger_csrf}),
            "GET /activation": stranger.get(f"/activation/{activation}"),
        }
        health = client.get("/readyz")
        alive = client.get("/healthz")
    for what, response in answers.items():
        assert response.status_code == 503, (what, response.status_code)
        assert UNAVAILABLE in page_text(response) and "rien n'a été modifié" in page_text(response), what
    assert health.status_code == 503 and health.get_json()["failed"] == ["database"]
    assert alive.status_code == 200  # alive: the load balancer must not restart every VM at once
    # Back: the voter is as before, still logged in, and the link still works.
    assert state(app, voter_id) == before
    assert client.get_cookie("reassort_session").value == cookie
    assert client.get("/").status_code == 200
    assert regenerate(client, link).status_code == 200


# -- the database locked ------------------------------------------------------------------

@contextlib.contextmanager
def database_locked(app):
    """Another connection holds the database's write lock (SQLite) or the tables (PostgreSQL)."""
    engine = app.extensions["reassort_db"][0]
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _short_wait(dbapi_connection, _record):
            dbapi_connection.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
        engine.dispose()  # new connections: the short wait applies
        locker = sqlite3.connect(engine.url.database, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            locker.execute("ROLLBACK")
            locker.close()
            event.remove(engine, "connect", _short_wait)
            engine.dispose()
    else:
        other = create_engine(engine.url)
        with other.connect() as connection:
            connection.execute(text("LOCK TABLE voters, audit_events, captcha_challenges IN ACCESS EXCLUSIVE MODE"))
            try:
                yield
            finally:
                connection.rollback()
        other.dispose()


def test_locked_database_at_login_is_a_503_and_the_browser_stays_logged_out(app, client, make_voter):
    voter_id = make_voter()
    email = get_voter(app, voter_id).email
    token = csrf_of(client.get("/connexion"))
    with database_locked(app):
        response = client.post("/connexion", data={"email": email, "password": "une phrase de passe assez longue",
                                                   "csrf_token": token})
    assert response.status_code == 503 and UNAVAILABLE in page_text(response)
    # The login was not recorded, so it did not happen: the session cookie says nobody.
    assert "vid" not in session_of(client)
    assert events(app, "login_ok") == 0
    assert client.get("/").status_code == 302
    assert login(client, email).status_code == 302


def test_locked_database_during_a_wrong_answer_counts_nothing(app, logged_in):
    client, voter_id, _ = logged_in
    before = state(app, voter_id)
    token = csrf_of(client.get("/reassort/question-defi"))
    with database_locked(app):
        response = client.post("/reassort/question-defi", data={
            "answer": "pas la bonne réponse", "identifier": NUMEN, "channel": "email",
            "personal_email": PERSONAL_EMAIL, "csrf_token": token})
    assert response.status_code == 503
    assert state(app, voter_id) == before and events(app, "challenge_failed") == 0
    assert ask_link(client, answer="pas la bonne réponse").status_code == 200
    assert get_voter(app, voter_id).challenge_failures == 1


def test_locked_database_during_regeneration_changes_nothing_and_the_voter_can_retry(app, logged_in, outbox):
    client, voter_id, _ = logged_in
    ask_link(client)
    assert open_link(client, last_link(outbox())).status_code == 303
    page = client.get("/reassort/regenerer")
    before = state(app, voter_id)
    with database_locked(app):
        response = client.post("/reassort/regenerer", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 503 and UNAVAILABLE in page_text(response)
    assert state(app, voter_id) == before and code_works(app, voter_id, CODE)
    assert events(app, "code_regenerated") == 0
    # The link stayed in the session (nothing of the failed request was kept): retry.
    retried = regenerate(client)
    assert retried.status_code == 200
    new_code = code_on_page(retried)
    assert code_works(app, voter_id, new_code) and not code_works(app, voter_id, CODE)


# -- a regeneration cut in the middle -----------------------------------------------------

def inject_failure(app, where: str):
    """Make the database fail at one step of the regeneration's transaction."""
    engine = app.extensions["reassort_db"][0]
    dbapi_error = engine.dialect.loaded_dbapi.OperationalError

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        sql = statement.lstrip().upper()
        if (where == "update" and sql.startswith("UPDATE VOTERS") and "CODE_DIGEST" in sql) or \
                (where == "audit" and sql.startswith("INSERT INTO AUDIT_EVENTS")
                 and "code_regenerated" in json.dumps(parameters, default=str)):
            raise dbapi_error("panne injectée")

    def before_commit(session):
        if any(isinstance(o, AuditEvent) and o.event == "code_regenerated" for o in session.new):
            raise OperationalError("COMMIT", None, dbapi_error("panne injectée au COMMIT"))

    if where == "commit":
        event.listen(Session, "before_commit", before_commit)
        return lambda: event.remove(Session, "before_commit", before_commit)
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    return lambda: event.remove(engine, "before_cursor_execute", before_cursor_execute)


@pytest.mark.parametrize("where", ["update", "audit", "commit"])
def test_regeneration_failing_at_any_step_keeps_the_old_code_and_the_link(app, logged_in, outbox, where):
    client, voter_id, _ = logged_in
    ask_link(client)
    open_link(client, last_link(outbox()))
    page = client.get("/reassort/regenerer")
    before = state(app, voter_id)
    notices = len(outbox())
    restore = inject_failure(app, where)
    try:
        response = client.post("/reassort/regenerer", data={"csrf_token": csrf_of(page)})
    finally:
        restore()
    assert response.status_code == 503 and UNAVAILABLE in page_text(response)
    assert state(app, voter_id) == before and code_works(app, voter_id, CODE)
    assert events(app, "code_regenerated") == 0 and len(outbox()) == notices  # no "code changed" notice
    retried = regenerate(client)
    assert retried.status_code == 200
    assert code_works(app, voter_id, code_on_page(retried)) and not code_works(app, voter_id, CODE)
    assert events(app, "code_regenerated") == 1


CHILD = r"""
import json, sys, time
config, point, voter_id, generation = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
from sqlalchemy import event
from sqlalchemy.orm import Session
from app import create_app
from reassort.web.extensions import db
from reassort.procedures import recovery
from reassort.rules import codes

app = create_app(config)
made = codes.generate
def generate():
    code = made()
    print("CODE", code, flush=True)
    return code
codes.generate = generate

def stop():
    print("AT", point, flush=True)
    time.sleep(120)  # the parent kills us here

with app.test_request_context("/reassort/regenerer", method="POST"):
    engine = db.engine
    if point == "after_update":
        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("UPDATE VOTERS"):
                stop()
    elif point == "before_commit":
        @event.listens_for(engine, "commit")
        def _commit(conn):
            stop()
    elif point == "after_commit":
        @event.listens_for(Session, "after_commit")
        def _committed(session):
            stop()
    recovery.regenerate(db.session, voter_id, generation)
    print("DONE", flush=True)
"""


def run_and_kill(settings, point: str, voter_id: int, generation: int, tmp_path) -> str:
    """Run ``recovery.regenerate`` in a child process and SIGKILL it at ``point``; its new code."""
    lines = kill_child(settings, CHILD, [point, str(voter_id), str(generation)], tmp_path / f"child-{point}.err",
                       "AT ")
    codes = [line.split(" ", 1)[1].strip() for line in lines if line.startswith("CODE ")]
    return codes[-1] if codes else None


def kill_child(settings, program: str, args: list[str], err_path, until: str) -> list[str]:
    """Run ``program`` in a child process with the test's settings; SIGKILL it once it prints ``until``.

    Returns the lines it printed.  ``until`` never printed (the child ended or hung) fails the test.
    """
    config = {k: v for k, v in settings.items() if k != "CLOCK"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("REASSORT_")}
    with open(err_path, "wb") as err:
        child = subprocess.Popen([sys.executable, "-c", program, json.dumps(config), *args], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=err)
    lines: queue.Queue = queue.Queue()
    # A thread reads the pipe: select() cannot see lines already in the reader's buffer.
    reader = threading.Thread(target=lambda: [lines.put(raw.decode()) for raw in child.stdout] + [lines.put("")],
                              daemon=True)
    reader.start()
    seen, reached = [], False
    try:
        while not reached:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                line = ""
            assert line, f"the child stopped (status {child.poll()}) or hung: " + err_path.read_text()
            seen.append(line)
            reached = line.startswith(until)
        child.send_signal(signal.SIGKILL)  # no cleanup, no rollback from the client side
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(30)
        reader.join(10)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    return seen


@pytest.mark.parametrize("point", ["after_update", "before_commit", "after_commit"])
def test_regeneration_killed_at_any_point_leaves_the_old_code_or_the_new_one(app, settings, make_voter, point,
                                                                            tmp_path, outbox):
    voter_id = make_voter(link_generation=7)
    new_code = run_and_kill(settings, point, voter_id, 7, tmp_path)
    old_works, new_works = code_works(app, voter_id, CODE), code_works(app, voter_id, new_code)
    # Exactly one of them opens the voting space: never both dead, never both alive.
    assert old_works != new_works
    generation = get_voter(app, voter_id).link_generation
    if point == "after_commit":
        assert new_works and generation != 7 and events(app, "code_regenerated") == 1
        # Its notice was queued in the same transaction: the sender sends it though the worker died.
        assert [m for m in outbox() if "modifié" in m["subject"]] == []
        assert app.test_cli_runner().invoke(args=["messages", "work", "--once"]).exit_code == 0
        assert len([m for m in outbox() if "modifié" in m["subject"]]) == 1
    else:
        assert old_works and generation == 7 and events(app, "code_regenerated") == 0
        # The link still works: the voter clicks again and gets a code.
        with app.test_request_context():
            again = recovery.regenerate(db.session, voter_id, 7)
        assert again is not None and code_works(app, voter_id, again.code)


# -- a link recorded before it leaves ----------------------------------------------------------

def inject_failure_on_link_record(app):
    """Make the UPDATE that records a new link as the current one fail."""
    engine = app.extensions["reassort_db"][0]
    dbapi_error = engine.dialect.loaded_dbapi.OperationalError

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        sql = statement.lstrip().upper()
        if sql.startswith("UPDATE VOTERS SET LINK_GENERATION") and "CODE_DIGEST" not in sql:
            raise dbapi_error("panne injectée")

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    return lambda: event.remove(engine, "before_cursor_execute", before_cursor_execute)


def test_link_whose_recording_fails_is_never_sent_and_nothing_is_charged(app, logged_in, outbox):
    client, voter_id, _ = logged_in
    before = state(app, voter_id)
    restore = inject_failure_on_link_record(app)
    try:
        response = ask_link(client)
    finally:
        restore()
    # Recorded before it leaves: the recording failed, so nothing left, and the place is given back.
    assert response.status_code == 503 and UNAVAILABLE in page_text(response)
    assert outbox() == [] and state(app, voter_id) == before
    assert "Lien envoyé" in page_text(ask_link(client))
    assert open_link(client, last_link(outbox())).status_code == 303


def test_link_delivered_works_even_when_its_audit_row_cannot_be_written(app, logged_in, outbox):
    client, voter_id, _ = logged_in
    dbapi_error = app.extensions["reassort_db"][0].dialect.loaded_dbapi.OperationalError

    def before_commit(session):
        if any(isinstance(o, AuditEvent) and o.event == "link_requested" for o in session.new):
            raise OperationalError("COMMIT", None, dbapi_error("panne injectée au COMMIT"))

    event.listen(Session, "before_commit", before_commit)
    try:
        response = ask_link(client)
    finally:
        event.remove(Session, "before_commit", before_commit)
    assert "Lien envoyé" in page_text(response)
    assert open_link(client, last_link(outbox())).status_code == 303


LINK_CHILD = r"""
import json, sys, time
config, point, voter_id = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
from sqlalchemy import event
from app import create_app
from reassort.adapters import messaging
from reassort.adapters.messaging import outbox
from reassort.web.extensions import db
from reassort.procedures import recovery
from reassort.storage.models import Voter

app = create_app(config)

def stop():
    print("AT", point, flush=True)
    time.sleep(120)  # the parent kills us here

def handed_over(message, cfg):
    outbox.send(message, cfg)  # the provider has it
    if point == "after_hand_over":
        stop()

messaging.MAIL_BACKENDS["outbox"] = handed_over
with app.test_request_context("/reassort/question-defi", method="POST"):
    if point == "after_record":
        from sqlalchemy.orm import Session
        @event.listens_for(Session, "after_commit")
        def _commit(session):
            if getattr(_commit, "armed", False):
                stop()
        @event.listens_for(db.engine, "after_cursor_execute")
        def _after(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("UPDATE VOTERS SET LINK_GENERATION"):
                _commit.armed = True
    voter = db.session.get(Voter, voter_id)
    recovery.send_link(db.session, voter, "email", "jeanne.perso@exemple.org")
    print("DONE", flush=True)
"""


@pytest.mark.parametrize("point", ["after_record", "after_hand_over"])
def test_link_send_killed_at_any_point_leaves_the_code_and_a_delivered_link_works(app, settings, make_voter,
                                                                                 point, tmp_path, outbox, clock):
    voter_id = make_voter()
    generation = get_voter(app, voter_id).link_generation
    kill_child(settings, LINK_CHILD, [point, str(voter_id)], tmp_path / f"link-{point}.err", "AT ")
    assert code_works(app, voter_id, CODE)  # the code is never touched by a link's send
    if point == "after_record":
        # Recorded, then killed before it left: nothing was delivered, so no dead link is anywhere.
        assert outbox() == [] and get_voter(app, voter_id).link_generation != generation
    else:
        # Handed over, then killed before anything else: the link delivered works.
        clock.t = time.time() + 1  # after the child signed it
        assert regenerate(app.test_client(), last_link(outbox())).status_code == 200


# -- the limiter's storage gone -------------------------------------------------------------

@pytest.fixture
def no_redis(settings):
    # Without the memory fallback (tests/test_redis_outage.py has it on, the default).
    settings.update(RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0", RATELIMIT_MEMORY_FALLBACK=False)
    return settings


def test_rate_limit_storage_gone_without_fallback_is_a_french_503_and_nothing_changes(no_redis, app, client,
                                                                                      make_voter):
    voter_id = make_voter()
    email = get_voter(app, voter_id).email
    before = state(app, voter_id)
    token = csrf_of(client.get("/connexion"))  # GETs of the forms are not limited
    response = client.post("/connexion", data={"email": email, "password": "x", "csrf_token": token})
    assert response.status_code == 503 and UNAVAILABLE in page_text(response)
    assert state(app, voter_id) == before and "vid" not in session_of(client)
    health = client.get("/readyz")
    assert health.status_code == 503 and health.get_json()["failed"] == ["ratelimit_storage"]


# -- SMTP and SMS failing again and again --------------------------------------------------

@pytest.fixture
def channel_settings(settings, smtp_server, gateway):
    settings.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_TIMEOUT=2,
                    SMS_BACKEND="http", SMS_HTTP_URL=gateway.url, SMS_HTTP_TIMEOUT=0.3,
                    SMS_SENDS_PER_HOUR=3, EMAIL_SENDS_PER_HOUR=3,
                    DELIVERY_BREAKER_FAILURES=1000)  # tests/test_rush.py has the breaker
    return settings


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def app_threads() -> list[str]:
    """Long-lived threads: not the SMS gateway's request threads (the test server's), nor
    the one short ``Timer`` at a time that limits' memory storage runs to expire counters."""
    return sorted(t.name for t in threading.enumerate()
                  if "process_request" not in t.name and not isinstance(t, threading.Timer))


ROUNDS = 40


def test_repeated_delivery_failures_leak_nothing_and_charge_nothing(channel_settings, app, logged_in,
                                                                      smtp_server, gateway):
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("/proc/self/fd absent : comptage des descripteurs impossible ici")
    client, voter_id, _ = logged_in
    dead = f"http://127.0.0.1:{free_port()}/sms"

    def fail(mode):
        gateway.status, smtp_server.handler.refuse = 200, False
        app.config.update(SMS_HTTP_URL=gateway.url, SMTP_PORT=smtp_server.port)
        if mode == "sms-500":
            gateway.status = 500          # retried once, then refused
        elif mode == "sms-400":
            gateway.status = 400
        elif mode == "sms-down":
            app.config["SMS_HTTP_URL"] = dead
        elif mode == "email-refused":
            smtp_server.handler.refuse = True
        elif mode == "email-down":
            app.config["SMTP_PORT"] = free_port()
        response = ask_link(client, channel=mode.split("-")[0])
        assert response.status_code == 503, mode
        assert SEND_FAILED in page_text(response)

    modes = ["sms-500", "sms-400", "sms-down", "email-refused", "email-down"]
    before = state(app, voter_id)
    for mode in modes:  # warm-up: imports, pools and caches settle
        fail(mode)
    fds, threads = open_fds(), app_threads()
    for mode in itertools.islice(itertools.cycle(modes), ROUNDS):
        fail(mode)
    assert open_fds() <= fds + 2, (fds, open_fds())
    assert len(app_threads()) <= len(threads), (threads, app_threads())
    # Nothing charged: no link counted, no failure counted, the global caps untouched.
    assert state(app, voter_id) == before
    assert events(app, "link_send_failed") == ROUNDS + len(modes) and events(app, "link_requested") == 0
    gateway.status, smtp_server.handler.refuse = 200, False
    app.config.update(SMS_HTTP_URL=gateway.url, SMTP_PORT=smtp_server.port)
    for _ in range(3):  # SMS_SENDS_PER_HOUR = 3: all three still available
        assert "Lien envoyé" in page_text(ask_link(client, channel="sms"))
    assert "très sollicité" in page_text(ask_link(client, channel="sms"))
    assert get_voter(app, voter_id).links_in_window == 3


def test_a_hanging_sms_gateway_times_out_cleanly(channel_settings, app, logged_in):
    app.config.update(LINKS_PER_HOUR=10, SMS_SENDS_PER_HOUR=10)  # unconfirmed sends stay charged
    client, voter_id, _ = logged_in
    code_before = get_voter(app, voter_id).code_digest
    # A gateway that takes the connection and never answers: a socket that listens and never
    # accepts (the kernel completes the handshake), so no server thread is left to clean up.
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        app.config["SMS_HTTP_URL"] = f"http://127.0.0.1:{mute.getsockname()[1]}/sms"
        fds = None
        for attempt in range(6):
            response = ask_link(client, channel="sms")
            # The request went out whole: the SMS may still leave, so the voter is told it is unconfirmed.
            assert response.status_code == 503 and "pas reçu à temps la confirmation" in page_text(response)
            if attempt == 0 and os.path.isdir("/proc/self/fd"):
                fds = open_fds()
        if fds is not None:
            assert open_fds() <= fds + 1  # the timed-out connections are closed, not kept
    assert get_voter(app, voter_id).code_digest == code_before


def test_notice_failure_after_a_regeneration_keeps_the_new_code(channel_settings, app, logged_in, smtp_server,
                                                                 gateway):
    client, voter_id, _ = logged_in
    ask_link(client, channel="sms")
    link = LINK_RE.search(gateway.requests[-1]["json"]["text"]).group(0)
    app.config["SMTP_PORT"] = free_port()  # the notice "code modifié" cannot leave
    response = regenerate(client, link)
    assert response.status_code == 200
    new_code = code_on_page(response)
    assert code_works(app, voter_id, new_code) and not code_works(app, voter_id, CODE)
    assert events(app, "code_regenerated") == 1
