"""The opening rush and slow providers (issue 15): nothing slow between a decision and its answer.

- the « code modifié » notice is queued with the regeneration and leaves after the response;
- each send has a total deadline, a failing provider is skipped for every worker and the
  voter is offered another way at once;
- a request that waited too long is shed without touching anything; bcrypt has an
  admission limit; the operator's switch holds across app instances;
- ``voters send-activation`` reuses connections, stops on a run of failures, resumes.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest
from sqlalchemy import event, func, select

from reassort import metrics
from reassort.procedures import breaker
from reassort.procedures import notices as notices_queue
from reassort.storage.models import OutgoingMessage, Voter
from reassort.web import admission
from reassort.web.extensions import db
from tests.conftest import CODE, csrf_of, get_voter, login, page_text
from tests.flows import LINK_RE, ask_link, code_on_page, last_link, open_link, regenerate
from tests.servers import SMTPTestServer

BUSY = "Service très sollicité"


def queued(app) -> int:
    with app.app_context():
        with db.new_session() as s:
            return s.scalar(select(func.count()).select_from(OutgoingMessage))


def notices(messages) -> list:
    return [m for m in messages if "modifié" in m["subject"]]


# -- 1. the notice leaves after the response ------------------------------------------------------

def test_notice_is_queued_with_the_regeneration_and_sent_after_the_response(app, logged_in, outbox):
    client, voter_id, email = logged_in
    ask_link(client)
    link = last_link(outbox())
    open_link(client, link)
    page = client.get("/reassort/regenerer")
    response = client.post("/reassort/regenerer", data={"csrf_token": csrf_of(page)}, buffered=False)
    # The reveal page is ready while the notice still waits in the queue: nothing was sent before it.
    assert response.status_code == 200
    assert queued(app) == 1 and notices(outbox()) == []
    assert code_on_page(response)  # the server has written the whole page: development's sender runs now
    response.close()
    assert queued(app) == 0 and [n["to"] for n in notices(outbox())] == [email]


def test_a_sender_asked_to_stop_finishes_the_notice_in_hand_and_gives_the_others_back(app, make_voter, outbox):
    # « messages work » on SIGTERM (systemd stop): not the whole queue behind a slow relay.
    voter_id = make_voter()
    with app.app_context():
        with db.new_session() as s:
            for _ in range(3):
                notices_queue.enqueue(s, "code_changed", voter_id)
            s.commit()
            assert notices_queue.drain(s, stop=lambda: len(outbox()) >= 1) == (1, 0)
            rows = s.scalars(select(OutgoingMessage)).all()
            # Given back as they were: due now, unclaimed, their attempt not counted.
            assert [(r.claimed_until, r.attempts) for r in rows] == [(0, 0), (0, 0)]
            assert notices_queue.drain(s) == (2, 0)
    assert len(outbox()) == 3


@pytest.fixture
def hanging_smtp():
    """An SMTP server that takes the connection and never says anything (not even its banner)."""
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(16)
        yield mute.getsockname()[1]


def test_regeneration_never_waits_on_a_hanging_mail_server(settings, hanging_smtp, request):
    settings.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=hanging_smtp, SMTP_TIMEOUT=0.3,
                    SMS_BACKEND="outbox", NOTICES_DRAIN="worker")
    app = request.getfixturevalue("app")
    client, voter_id, _ = request.getfixturevalue("logged_in")
    with app.app_context():
        from reassort.procedures import recovery
        generation = get_voter(app, voter_id).link_generation
        link = recovery.link_url(voter_id, generation)
    response = regenerate(client, link)
    assert response.status_code == 200 and code_on_page(response)
    assert queued(app) == 1
    # The sender meets the hanging server: the deadline cuts it, the notice waits for a later try.
    result = app.test_cli_runner().invoke(args=["messages", "work", "--once"])
    assert result.exit_code == 0 and "en échec : 1" in result.output
    with app.app_context():
        with db.new_session() as s:
            row = s.scalars(select(OutgoingMessage)).one()
    assert row.attempts == 1 and row.due_at > row.created_at


# -- 2. deadlines, the breaker ----------------------------------------------------------------------

class Trickle:
    """A server that answers one byte every 0.1 s for ever: per-read timeouts never fire."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            while not self.stop.is_set():
                try:
                    conn.sendall(b"2")
                except OSError:
                    return
                self.stop.wait(0.1)

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_a_send_has_a_total_deadline_even_against_a_trickling_server(settings, request, channel):
    trickle = Trickle()
    request.addfinalizer(trickle.close)
    settings.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=trickle.port, SMTP_TIMEOUT=0.5,
                    SMS_BACKEND="http", SMS_HTTP_URL=f"http://127.0.0.1:{trickle.port}/sms", SMS_HTTP_TIMEOUT=0.5)
    app = request.getfixturevalue("app")
    client, voter_id, _ = request.getfixturevalue("logged_in")
    before = get_voter(app, voter_id)
    started = time.monotonic()
    response = ask_link(client, channel=channel)
    elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert elapsed < 3  # a bound, not a benchmark: 0.5 s in all, not 0.5 s per byte
    after = get_voter(app, voter_id)
    if channel == "email":
        # Cut before the message's end: nothing can arrive, everything given back.
        assert "L'envoi du message a échoué" in page_text(response)
        assert (after.link_generation, after.links_in_window) == (before.link_generation, before.links_in_window)


def test_the_deadlines_of_many_sends_share_one_thread(monkeypatch):
    # A thread started per send (threading.Timer) cost the mass mailing about 0.2 ms a mail.
    from reassort.adapters.messaging.base import Deadline

    started = []
    start = threading.Thread.start
    monkeypatch.setattr(threading.Thread, "start", lambda thread: (started.append(thread.name), start(thread))[1])
    for _ in range(20):
        with Deadline(30).watch(lambda: None):
            pass
    assert len(started) <= 1, started


def test_a_deadline_cuts_a_silent_peer_and_never_a_send_that_has_ended():
    from reassort.adapters.messaging.base import Deadline

    ended, ended_peer = socket.socketpair()
    silent, silent_peer = socket.socketpair()
    with ended, ended_peer, silent, silent_peer:
        with Deadline(0.01).watch(lambda: ended):
            pass  # this send ended before its deadline: its connection serves the next one
        late = Deadline(0.1)
        with late.watch(lambda: silent):
            assert silent.recv(1) == b""  # blocked until the deadline shut the socket down
        assert late.expired
        # The first deadline (0.01 s) came before the one that just struck (0.1 s): it cut nothing.
        ended_peer.sendall(b"x")
        assert ended.recv(1) == b"x"


def test_breaker_opens_after_repeated_failures_and_the_page_offers_the_other_channel(settings, gateway, request):
    settings.update(SMS_BACKEND="http", SMS_HTTP_URL=gateway.url, SMS_HTTP_TIMEOUT=1, DELIVERY_BREAKER_FAILURES=2,
                    FRANCECONNECT_STANDIN=True)
    app = request.getfixturevalue("app")
    client, voter_id, _ = request.getfixturevalue("logged_in")
    outbox = request.getfixturevalue("outbox")
    gateway.status = 400
    for _ in range(2):
        assert "L'envoi du message a échoué" in page_text(ask_link(client, channel="sms"))
    tried = len(gateway.requests)
    page = client.get("/reassort/question-defi")
    assert "Les SMS ne peuvent pas être envoyés en ce moment : choisissez le courriel" in page_text(page)
    assert "/reassort/franceconnect" in page_text(page)
    failures = get_voter(app, voter_id).challenge_failures
    refused = ask_link(client, channel="sms", answer="pas la bonne réponse")
    # Skipped at once: no wait, no request to the gateway, the answer not even checked nor counted.
    assert refused.status_code == 503 and "choisissez le courriel ou FranceConnect" in page_text(refused)
    assert len(gateway.requests) == tried and get_voter(app, voter_id).challenge_failures == failures
    assert "Lien envoyé" in page_text(ask_link(client, channel="email"))
    with app.app_context():
        breaker.reset("sms")
    gateway.status = 200
    assert "Lien envoyé" in page_text(ask_link(client, channel="sms"))
    assert len(notices(outbox())) == 0


def test_sends_in_flight_per_provider_are_bounded(settings, gateway, request):
    settings.update(SMS_BACKEND="http", SMS_HTTP_URL=gateway.url, SMS_HTTP_TIMEOUT=5, DELIVERY_IN_FLIGHT=1)
    app = request.getfixturevalue("app")
    client, _, _ = request.getfixturevalue("logged_in")
    from reassort.adapters import messaging
    with app.app_context():
        messaging._enter("sms")  # another thread of this worker is sending an SMS
    try:
        response = ask_link(client, channel="sms")
    finally:
        messaging._leave("sms")
    assert response.status_code == 503 and "choisissez le courriel" in page_text(response)
    assert gateway.requests == []


# -- 3. shedding, admission, suspension ---------------------------------------------------------------

def count_statements(app):
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(app.extensions["reassort_db"][0], "before_cursor_execute", listener)
    return seen, lambda: event.remove(app.extensions["reassort_db"][0], "before_cursor_execute", listener)


def shed_total(reason: str) -> float:
    return metrics.SHED.metric.labels(reason=reason)._value.get()


def test_a_request_that_waited_too_long_is_shed_at_once_and_touches_nothing(app, logged_in, clock):
    client, voter_id, email = logged_in
    token = csrf_of(client.get("/vote"))
    before = get_voter(app, voter_id)
    shed_before = shed_total("overload")
    seen, stop = count_statements(app)
    from reassort.web.extensions import limiter
    keys_before = dict(limiter.storage.storage)
    try:
        old = {"X-Request-Start": f"t={clock() - 5:.3f}"}
        response = client.post("/vote", data={"code": CODE, "csrf_token": token}, headers=old)
    finally:
        stop()
    assert response.status_code == 503 and BUSY in page_text(response)
    assert response.headers["Retry-After"] == "10"
    assert seen == []  # not one SQL statement
    assert dict(limiter.storage.storage) == keys_before  # not one rate-limit count
    assert shed_total("overload") == shed_before + 1
    assert get_voter(app, voter_id).session_epoch == before.session_epoch
    fresh = {"X-Request-Start": f"t={(clock() - 0.5) * 1000:.0f}"}  # milliseconds also understood
    assert client.post("/vote", data={"code": CODE, "csrf_token": token}, headers=fresh).status_code == 302


def reaching_flask(app) -> list[str]:
    """The paths of the requests that get past the outermost layer (``_FastShed``), from now on."""
    outer, calls = app.wsgi_app, []
    inner = outer.wsgi_app
    outer.wsgi_app = lambda environ, start_response: calls.append(environ["PATH_INFO"]) or inner(environ,
                                                                                               start_response)
    return calls


def test_a_request_too_old_is_answered_before_flask_runs(app, clock):
    # At 5× the capacity of POST /vote the shed answers must cost far less than a vote.
    calls = reaching_flask(app)
    old = {"X-Request-Start": f"t={clock() - 5:.3f}"}
    shed_before = shed_total("overload")
    for _ in range(2):  # rendered once, then the copy
        response = app.test_client().post("/vote", headers=old)
        assert response.status_code == 503 and BUSY in page_text(response)
        assert response.headers["Retry-After"] == "10" and response.headers["Cache-Control"] == "no-store"
        assert "max-age" in response.headers["Strict-Transport-Security"]
        assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert calls == [] and shed_total("overload") == shed_before + 2
    # The probes are never shed; a fresh request goes through.
    assert app.test_client().get("/healthz", headers=old).status_code == 200
    assert app.test_client().get("/connexion").status_code == 200
    assert calls == ["/healthz", "/connexion"]


@pytest.mark.parametrize("value, expected", [
    ("t=1733040000.123", 1733040000.123), ("t=1733040000123", 1733040000.123),
    ("t=1733040000123456", 1733040000.123456), ("1733040000", 1733040000.0),
    ("t=abc", None), ("t=-5", None), ("", None), ("t=nan", None)])
def test_request_start_header_forms(value, expected):
    found = admission.parse_request_start(value)
    assert found == pytest.approx(expected) if expected is not None else found is None


def test_bcrypt_posts_beyond_the_admission_limit_are_shed_without_checking(settings, request):
    settings.update(SHED_AFTER_SECONDS=0.2, BCRYPT_ADMISSION=1)
    app = request.getfixturevalue("app")
    make_voter = request.getfixturevalue("make_voter")
    client = app.test_client()
    email = get_voter(app, make_voter()).email
    token = csrf_of(client.get("/connexion"))
    with app.app_context():
        slot = admission._slot("bcrypt")
    assert slot.acquire(timeout=1)  # another thread of this worker is checking a password
    try:
        response = client.post("/connexion", data={"email": email, "password": "x", "csrf_token": token})
    finally:
        slot.release()
    assert response.status_code == 503 and BUSY in page_text(response)
    assert client.get("/connexion").status_code == 200  # the cheap pages still answer
    assert login(client, email).status_code == 302


def test_a_bcrypt_post_behind_too_long_a_queue_is_shed_at_once(settings, request, monkeypatch):
    # Two logins already wait for the worker's one place and one is being checked, each check
    # taking 0.5 s here: a fourth would wait 1.25 s on average, more than half of
    # SHED_AFTER_SECONDS (a wait that runs out the budget ends shed after 2 s) — it is told at
    # once, nothing checked.
    settings.update(SHED_AFTER_SECONDS=2.0, BCRYPT_ADMISSION=1)
    app = request.getfixturevalue("app")
    client = app.test_client()
    email = get_voter(app, request.getfixturevalue("make_voter")()).email
    token = csrf_of(client.get("/connexion"))
    monkeypatch.setitem(admission._seconds, "bcrypt", 0.5)
    monkeypatch.setitem(admission._waiting, "bcrypt", 2)
    shed_before = shed_total("queue_full")
    checks = []
    from reassort.procedures import accounts
    real = accounts.bcrypt_check
    monkeypatch.setattr(accounts, "bcrypt_check", lambda *a: checks.append(1) or real(*a))
    response = client.post("/connexion", data={"email": email, "password": "x", "csrf_token": token})
    assert response.status_code == 503 and BUSY in page_text(response)
    assert checks == [] and shed_total("queue_full") == shed_before + 1
    monkeypatch.setitem(admission._waiting, "bcrypt", 1)  # 0.75 s on average: it waits its turn
    assert login(client, email).status_code == 302


def test_every_bcrypt_post_is_admitted_and_nginx_leaves_it_to_the_app(app):
    # The views under ``admitted`` are the ones nginx's sample does not count in its bound:
    # the app is what sheds them.
    import os
    import re
    fast = app.wsgi_app
    assert fast.bcrypt_paths == {"/connexion", "/reassort/question-defi", "/mot-de-passe/nouveau",
                                 "/mon-compte/mot-de-passe", "/mon-compte/question-defi"}
    assert fast.bcrypt_prefixes == ("/activation/",)
    with open(os.path.join(os.path.dirname(__file__), "..", "deploy", "nginx-reassort.conf"), encoding="utf-8") as fh:
        site = fh.read()
    uncounted = re.search(r'"~(\^POST/\([^"]+\))" ""', site).group(1)
    for path in [*fast.bcrypt_paths, "/activation/abc"]:
        assert re.match(uncounted, "POST" + path), path
    assert not re.match(uncounted, "POST/vote")


def test_a_hopeless_bcrypt_post_is_answered_before_flask_runs(app, monkeypatch):
    # Under a login rush most bcrypt POSTs are shed: each must cost µs, not Flask's pipeline.
    calls = reaching_flask(app)
    outer = app.wsgi_app
    monkeypatch.setitem(admission._seconds, "bcrypt", 0.5)
    monkeypatch.setitem(admission._waiting, "bcrypt", 2)  # 1.25 s expected: over half the 2 s budget
    shed_before = shed_total("queue_full")
    paths = sorted(outer.bcrypt_paths) + ["/activation/abc"]
    for path in paths:
        response = app.test_client().post(path, data={"x": "y"})
        assert response.status_code == 503 and BUSY in page_text(response), path
        assert response.headers["Retry-After"] == "10"
    assert calls == [] and shed_total("queue_full") == shed_before + len(paths)
    assert app.test_client().get("/connexion").status_code == 200  # a GET costs no bcrypt: served
    monkeypatch.setitem(admission._waiting, "bcrypt", 1)  # 0.75 s expected: it reaches the app
    assert app.test_client().post("/connexion", data={"x": "y"}).status_code == 400  # Flask: no CSRF token
    assert calls == ["/connexion", "/connexion"]


def test_a_question_defi_gives_its_bcrypt_place_back_before_it_sends_the_link(settings, request, monkeypatch):
    # The send may take SMTP_TIMEOUT: the worker's one place must be free for the next login meanwhile.
    settings.update(BCRYPT_ADMISSION=1)
    client, _voter_id, _email = request.getfixturevalue("logged_in")
    from reassort.procedures import recovery
    real, free = recovery.send_link, []

    def send_link(*args, **kwargs):
        slot = admission._slot("bcrypt")
        free.append(slot.acquire(blocking=False))
        if free[-1]:
            slot.release()
        return real(*args, **kwargs)

    monkeypatch.setattr(recovery, "send_link", send_link)
    page = ask_link(client)
    assert page.status_code == 200 and free == [True]
    assert admission._slot("bcrypt").acquire(blocking=False)  # given back once, not twice (bounded)
    admission._slot("bcrypt").release()


def test_suspend_and_resume_are_shared_by_two_app_instances(app, settings, client, clock):
    from app import create_app
    other = create_app(settings)
    other_client = other.test_client()
    assert other_client.get("/connexion").status_code == 200
    result = app.test_cli_runner().invoke(args=["service", "suspend", "--operator", "m.durand", "--message",
                                                "Maintenance : le vote rouvre à 14 h. Rien n'est perdu."])
    assert result.exit_code == 0, result.output
    clock.advance(3)  # past SUSPENSION_CHECK_SECONDS: every worker has read the switch again
    for c in (client, other_client):
        page = c.get("/connexion")
        assert page.status_code == 503 and "le vote rouvre à 14 h" in page_text(page)
        assert page.headers["Retry-After"]
        assert "<form" not in page_text(page).split("<main", 1)[1]
    assert other_client.get("/healthz").status_code == 200 and other_client.get("/readyz").status_code == 200
    status = other.test_cli_runner().invoke(args=["service", "status"])
    assert "Suspendu" in status.output
    assert other.test_cli_runner().invoke(args=["service", "resume", "--operator", "m.durand"]).exit_code == 0
    clock.advance(3)
    assert client.get("/connexion").status_code == 200 and other_client.get("/connexion").status_code == 200
    with other.app_context():
        other.extensions["reassort_db"][0].dispose()


def test_suspend_refuses_an_empty_message_and_a_bad_operator(runner):
    assert runner.invoke(args=["service", "suspend", "--operator", "m.durand", "--message", "  "]).exit_code == 1
    assert runner.invoke(args=["service", "suspend", "--operator", "x y", "--message", "m"]).exit_code == 1


# -- 4. send-activation --------------------------------------------------------------------------------

class QuotaRecorder:
    """Accepts ``quota`` mails, then answers 451 to every DATA; counts sessions (EHLO)."""

    def __init__(self, quota: int, latency: float = 0.0):
        self.quota, self.latency = quota, latency
        self.accepted: list[str] = []
        self.received: list[bytes] = []
        self.sessions = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        self.received.append(envelope.content)
        if self.latency:
            await asyncio.sleep(self.latency)
        if len(self.accepted) >= self.quota:
            return "451 4.7.1 quota dépassé, réessayez plus tard"
        self.accepted.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def quota_smtp(settings):
    server = SMTPTestServer()
    handler = QuotaRecorder(quota=7)
    server.controller.handler = handler
    server.handler = handler
    settings.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_TIMEOUT=5)
    with server:
        yield handler


def new_voters(make_voter, n: int) -> list[int]:
    return [make_voter(activated=False) for _ in range(n)]


def test_send_activation_stops_on_a_run_of_relay_failures_and_resumes_without_sending_twice(quota_smtp, app,
                                                                                           make_voter):
    ids = new_voters(make_voter, 30)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["voters", "send-activation", "--connections", "2", "--stop-after", "4"])
    assert first.exit_code == 1
    assert "Liens d'activation envoyés : 7 ;" in first.stdout
    assert "échecs de suite" in first.stderr and "451" in first.stderr
    assert "Relancez la même commande pour reprendre" in first.stderr
    assert first.stderr.count("Échec de l'envoi") < 12  # it stopped: not one line per remaining voter
    assert quota_smtp.sessions <= 4  # connections reused for many messages
    quota_smtp.quota = 1000
    second = runner.invoke(args=["voters", "send-activation", "--connections", "3"])
    assert second.exit_code == 0, second.output
    assert "envoyés : 23 ;" in second.stdout
    emails = sorted(get_voter(app, i).email for i in ids)
    assert sorted(quota_smtp.accepted) == emails  # each voter exactly once over both runs
    with app.app_context():
        with db.new_session() as s:
            claimed = select(func.count()).select_from(Voter).where(Voter.activation_claimed_at.is_not(None))
            assert s.scalar(claimed) == 0


def test_send_activation_interrupted_gives_back_what_it_had_not_sent(app, make_voter, outbox, monkeypatch):
    from reassort.cli import mailing
    new_voters(make_voter, 40)
    real = mailing.Run._progress

    def interrupt_once(self, final=False):
        if self.sent >= 3 and not getattr(self, "interrupted_once", False):
            self.interrupted_once = True
            raise KeyboardInterrupt
        return real(self, final)

    monkeypatch.setattr(mailing.Run, "_progress", interrupt_once)
    monkeypatch.setattr(mailing.Run, "BATCH_MIN", 5)  # several batches: the interruption falls inside the run
    first = app.test_cli_runner().invoke(args=["voters", "send-activation", "--connections", "1"])
    assert first.exit_code == 130 and "Relancez la même commande pour reprendre" in first.stderr
    sent_first = len(outbox())
    assert 3 <= sent_first < 40
    monkeypatch.setattr(mailing.Run, "_progress", real)
    second = app.test_cli_runner().invoke(args=["voters", "send-activation"])
    assert second.exit_code == 0 and f"envoyés : {40 - sent_first} ;" in second.stdout
    assert sorted(m["to"] for m in outbox()) == sorted({m["to"] for m in outbox()})  # nobody twice
    assert len(outbox()) == 40


def test_send_activation_rate_option_spaces_the_mails(app, make_voter, outbox):
    new_voters(make_voter, 5)
    started = time.monotonic()
    result = app.test_cli_runner().invoke(args=["voters", "send-activation", "--rate", "20"])
    assert result.exit_code == 0 and len(outbox()) == 5
    assert time.monotonic() - started >= 0.15  # 5 mails at 20/s: at least 4 intervals of 50 ms


def test_a_delivered_link_always_works_even_when_the_relay_answers_late(settings, request):
    """The relay has the whole message, then answers after the deadline: the link it may deliver works."""
    server = SMTPTestServer()
    handler = QuotaRecorder(quota=100, latency=1.5)
    server.controller.handler = handler
    settings.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_TIMEOUT=0.5)
    with server:
        request.getfixturevalue("app")
        client, _, _ = request.getfixturevalue("logged_in")
        response = ask_link(client)
    assert response.status_code == 503 and "pas reçu à temps la confirmation" in page_text(response)
    assert len(handler.received) == 1
    from email import message_from_bytes
    from email.policy import default
    link = LINK_RE.search(message_from_bytes(handler.received[0], policy=default).get_content()).group(0)
    assert open_link(client, link).status_code == 303
