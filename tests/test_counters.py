"""SEC-41 and the growing lock (SEC-08, SPEC §2): every counter that limits a voter holds under concurrency.

The races run ``THREADS`` simultaneous requests (released together by a barrier)
on a SQLite file and on PostgreSQL; the limiter-storage counters on memory:// and
on Redis.  Each test counts what the race produced: N requests count N, and no
more than the allowed number of sends ever leave.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from reassort.procedures import quotas, recovery
from reassort.rules import throttle
from reassort.storage.models import AuditEvent, Voter
from reassort.web.extensions import db
from tests.conftest import ANSWER, NUMEN, csrf_of, get_voter, login
from tests.flows import PERSONAL_EMAIL, ask_link

pytestmark = pytest.mark.each_database

THREADS = 12
WRONG = "pas la bonne réponse"


@pytest.fixture
def settings(settings):
    # The limiter's per-voter cap on question-défi POSTs is not the counter under test here.
    settings["CHALLENGE_LIMIT_PER_VOTER"] = "100 per hour"
    return settings


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limiter_storage(request, settings):
    """The limiter's storage: memory:// (one process), then Redis (production's), with a prefix of its own.

    Named before ``app`` in a test's arguments, so that the app is built with it.
    """
    if request.param == "redis":
        url, prefix = request.getfixturevalue("redis_limits")
        settings.update(RATELIMIT_STORAGE_URI=url, RATELIMIT_KEY_PREFIX=prefix)
    return request.param


def race(n: int, work) -> list:
    """Run ``work(i)`` in ``n`` threads released together; their results in order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n
    errors: list = []

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001  (reported by the test, not lost in the thread)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    return results


def events(app, name: str, detail: str | None = None) -> int:
    with app.app_context():
        with db.new_session() as s:
            query = select(func.count()).select_from(AuditEvent).where(AuditEvent.event == name)
            if detail is not None:
                query = query.where(AuditEvent.detail == detail)
            return s.scalar(query)


def concurrent_challenge_posts(app, client, n: int, answer: str, email: str = PERSONAL_EMAIL) -> list[int]:
    """``n`` simultaneous question-défi POSTs from the logged-in ``client``'s session; their statuses."""
    token = csrf_of(client.get("/reassort/question-defi"))
    cookie = client.get_cookie("reassort_session").value

    def post(_i):
        c = app.test_client()
        c.set_cookie("reassort_session", cookie)
        return c.post("/reassort/question-defi", data={"answer": answer, "identifier": NUMEN, "channel": "email",
                                                       "personal_email": email, "csrf_token": token}).status_code

    return race(n, post)


# -- item 1: concurrent wrong answers all count, and the lock engages ------------------------

def test_sec41_concurrent_wrong_answers_each_count_and_the_lock_engages(app, logged_in, outbox):
    client, voter_id, _ = logged_in
    maximum = app.config["CHALLENGE_MAX_FAILURES"]
    statuses = concurrent_challenge_posts(app, client, THREADS, WRONG)
    assert all(status in (200, 429) for status in statuses), statuses
    # Exactly the allowed number of answers were checked; the others were refused before any check.
    assert events(app, "challenge_failed") == maximum
    assert events(app, "challenge_locked", "refused") == THREADS - maximum
    assert events(app, "challenge_locked", "started") == 1
    voter = get_voter(app, voter_id)
    assert voter.challenge_locked_until > app.config["CLOCK"]() and voter.challenge_lock_level == 1
    # The right answer now sends nothing: the lock holds.
    assert "question défi est suspendue" in ask_link(client).get_data(as_text=True)
    assert outbox() == []


def test_sec41_wrong_answers_are_counted_before_the_bcrypt_check(app, logged_in, monkeypatch):
    client, voter_id, _ = logged_in
    seen = []
    real = recovery.challenge_matches

    def spy(voter, answer, identifier):
        with app.app_context():
            seen.append(get_voter(app, voter_id).challenge_failures)
        return real(voter, answer, identifier)

    monkeypatch.setattr(recovery, "challenge_matches", spy)
    ask_link(client, answer=WRONG)
    ask_link(client, answer=WRONG)
    assert seen == [1, 2]  # already counted when the check runs


# -- item 2: LINKS_PER_HOUR holds against concurrent right answers ---------------------------

def test_sec41_concurrent_right_answers_send_at_most_links_per_hour(settings, request):
    settings["LINKS_PER_HOUR"] = 4
    # Answers in flight count as failures until found right: room for all of them here, so that
    # only the links counter decides.
    settings["CHALLENGE_MAX_FAILURES"] = 100
    app = request.getfixturevalue("app")
    client, voter_id, _ = request.getfixturevalue("logged_in")
    outbox = request.getfixturevalue("outbox")
    statuses = concurrent_challenge_posts(app, client, THREADS, ANSWER)
    # A link sent redirects to its result page (post/redirect/get); a refusal is the form again.
    assert statuses.count(303) == 4 and statuses.count(200) == THREADS - 4
    assert len(outbox()) == 4 and events(app, "link_requested") == 4
    assert events(app, "throttled", "links_per_hour") == THREADS - 4
    assert get_voter(app, voter_id).links_in_window == 4


def test_sec41_global_send_cap_holds_under_concurrency(limiter_storage, settings, request):
    settings["EMAIL_SENDS_PER_HOUR"] = 3
    app = request.getfixturevalue("app")
    make_voter = request.getfixturevalue("make_voter")
    outbox = request.getfixturevalue("outbox")
    clients = []
    for _ in range(THREADS):
        c = app.test_client()
        assert login(c, get_voter(app, make_voter()).email).status_code == 302
        clients.append(c)
    pages = [csrf_of(c.get("/reassort/question-defi")) for c in clients]

    def post(i):
        return clients[i].post("/reassort/question-defi", data={
            "answer": ANSWER, "identifier": NUMEN, "channel": "email", "personal_email": PERSONAL_EMAIL,
            "csrf_token": pages[i]}).get_data(as_text=True)

    pages_out = race(THREADS, post)
    assert len(outbox()) == 3
    assert sum("très sollicité" in page for page in pages_out) == THREADS - 3
    # A refused voter was not charged for the cap: their place this hour is free again.
    with app.app_context():
        with db.new_session() as s:
            assert sorted(s.scalars(select(Voter.links_in_window))) == [0] * (THREADS - 3) + [1] * 3


def test_sec41_a_refused_reservation_leaves_room_for_a_given_back_one(limiter_storage, app):
    """Over the cap, the refused request takes its own increment back: a later give-back frees a real place."""
    with app.test_request_context():
        held = [quotas.reserve("2 per hour", "test-cap") for _ in range(2)]
        assert all(held) and quotas.reserve("2 per hour", "test-cap") is None
        held[0].give_back()  # our delivery failed
        assert quotas.reserve("2 per hour", "test-cap") is not None
        assert quotas.reserve("2 per hour", "test-cap") is None


# -- the reusable pieces: "N per voter / per address per window" -------------------------------

@pytest.mark.parametrize("reserve", [
    lambda: quotas.per_voter("3 per hour", "password-reset", 42),
    lambda: quotas.per_address("3 per hour", "activation-resend", "agent@education.gouv.fr"),
], ids=["per_voter", "per_address"])
def test_sec41_reusable_quotas_hold_under_concurrency(limiter_storage, app, reserve):
    def work(_i):
        with app.test_request_context():
            return reserve() is not None

    assert sum(race(THREADS, work)) == 3


def test_sec41_row_counter_reserves_exactly_the_maximum_under_concurrency(app, make_voter, clock):
    voter_id = make_voter()

    def work(_i):
        with app.app_context():
            with db.new_session() as s:
                taken = quotas.take(s, recovery.LINKS, voter_id, 4, int(clock()))
                return None if taken is None else taken.number

    numbers = race(THREADS, work)
    assert sorted(n for n in numbers if n is not None) == [1, 2, 3, 4]
    assert get_voter(app, voter_id).links_in_window == 4


def test_sec41_row_counter_window_restarts_atomically_and_give_back_stays_in_its_window(app, make_voter, clock):
    voter_id = make_voter()
    with app.app_context():
        with db.new_session() as s:
            first = quotas.take(s, recovery.LINKS, voter_id, 2, int(clock()))
            assert first.number == 1 and quotas.take(s, recovery.LINKS, voter_id, 2, int(clock())).number == 2
            assert quotas.take(s, recovery.LINKS, voter_id, 2, int(clock())) is None
            clock.advance(3600)
            fresh = quotas.take(s, recovery.LINKS, voter_id, 2, int(clock()))
            assert fresh.number == 1 and fresh.window_started == int(clock())
            first.give_back(s)  # from the window that has ended: frees nothing in this one
            assert get_voter(app, voter_id).links_in_window == 1
            fresh.give_back(s)
            assert get_voter(app, voter_id).links_in_window == 0


# -- item 11: the lock grows, capped at 24 h; a right answer ends the row -----------------------

def fail_until_locked(app, voter_id) -> int:
    """Answer wrong until the path locks; the lock's length (s)."""
    with app.test_request_context():
        for _ in range(app.config["CHALLENGE_MAX_FAILURES"]):
            voter = db.session.get(Voter, voter_id, populate_existing=True)
            assert recovery.request_by_challenge(db.session, voter, WRONG, NUMEN, "email",
                                                 PERSONAL_EMAIL).outcome == recovery.WRONG
        voter = db.session.get(Voter, voter_id, populate_existing=True)
        return voter.challenge_locked_until - int(app.config["CLOCK"]())


def test_sec08_each_further_lock_in_a_row_doubles_up_to_24_hours(app, make_voter, clock):
    voter_id = make_voter()
    first = app.config["CHALLENGE_LOCK_SECONDS"]
    lengths = []
    for _ in range(7):
        lengths.append(fail_until_locked(app, voter_id))
        clock.advance(lengths[-1])  # the lock ends: never permanent
    assert lengths == [first, 2 * first, 4 * first, 8 * first, 16 * first, 86400, 86400]
    # A right answer ends the row: the next lock is the first one's length again.
    with app.test_request_context():
        voter = db.session.get(Voter, voter_id)
        assert recovery.request_by_challenge(db.session, voter, ANSWER, NUMEN, "email",
                                             PERSONAL_EMAIL).outcome == recovery.SENT
    assert get_voter(app, voter_id).challenge_lock_level == 0
    assert fail_until_locked(app, voter_id) == first


def test_lock_length_rule():
    assert [throttle.lock_seconds(3600, level) for level in range(6)] == [3600, 7200, 14400, 28800, 57600, 86400]
    assert throttle.lock_seconds(60, 1000) == 86400


def test_challenge_status_gives_attempts_left_and_the_unlock_instant(app, logged_in, clock):
    client, voter_id, _ = logged_in
    maximum = app.config["CHALLENGE_MAX_FAILURES"]
    with app.app_context():
        assert recovery.challenge_status(get_voter(app, voter_id)) == throttle.ChallengeStatus(maximum, None)
    ask_link(client, answer=WRONG)
    with app.app_context():
        assert recovery.challenge_status(get_voter(app, voter_id)).attempts_left == maximum - 1
    for _ in range(maximum - 1):
        ask_link(client, answer=WRONG)
    with app.app_context():
        status = recovery.challenge_status(get_voter(app, voter_id))
    assert status == throttle.ChallengeStatus(0, int(clock()) + app.config["CHALLENGE_LOCK_SECONDS"])
