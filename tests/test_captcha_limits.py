"""The CAPTCHA against adversaries: nobody locks a voter out (SEC-42), renderings are single and
limited, and unauthenticated GETs write no row per request (SEC-44)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from reassort.procedures import audit, captchas
from reassort.storage.models import AuditEvent, CaptchaChallenge
from reassort.web.extensions import db
from tests.conftest import PASSWORD, csrf_of, get_voter, post_form
from tests.test_captcha import answer, challenge_of, login_with_captcha

pytestmark = pytest.mark.each_database


@pytest.fixture
def settings(settings):
    settings["CAPTCHA_ENABLED"] = True
    return settings


def rows(app, model) -> int:
    with app.app_context():
        with db.new_session() as s:
            return s.scalar(select(func.count()).select_from(model))


def tallies(app) -> dict:
    with app.app_context():
        with db.new_session() as s:
            return audit.tallies(s)


@pytest.fixture
def renderings(monkeypatch):
    """Counts the drawings: ``renderings["image"]``, ``renderings["audio"]``."""
    counted = {"image": 0, "audio": 0}
    real_image, real_audio = captchas.image_png, captchas.audio_wav

    def image(challenge_id):
        counted["image"] += 1
        return real_image(challenge_id)

    def audio(challenge_id):
        counted["audio"] += 1
        return real_audio(challenge_id)

    monkeypatch.setattr(captchas, "image_png", image)
    monkeypatch.setattr(captchas, "audio_wav", audio)
    return counted


# -- SEC-42: nobody locks a voter out of login ---------------------------------------------

def test_sec42_posting_the_victims_address_with_a_wrong_captcha_never_locks_them_out(app, make_voter):
    email = get_voter(app, make_voter()).email
    attacker = app.test_client()
    limit = int(app.config["LOGIN_LIMIT_PER_ACCOUNT"].split()[0])
    for _ in range(limit + 2):  # as the review did it: the address in capitals, wrong password and CAPTCHA
        response, _, _ = login_with_captcha(attacker, email.upper(), "mauvais mot de passe", solve=False)
        assert response.status_code == 200
    victim = app.test_client()
    response, _, _ = login_with_captcha(victim, email)
    assert response.status_code == 302


def test_sec42_the_per_account_limit_counts_solved_captchas_under_the_normalised_address(app, make_voter):
    email = get_voter(app, make_voter()).email
    attacker = app.test_client()
    limit = int(app.config["LOGIN_LIMIT_PER_ACCOUNT"].split()[0])
    for typed in [email.upper(), f"  {email} ", email.title()] * limit:
        response, _, _ = login_with_captcha(attacker, typed, "mauvais mot de passe")
        if response.status_code == 429:
            break
    else:
        pytest.fail("la limite par compte n'a jamais joué")
    # Exactly ``limit`` password checks for this address, whatever its spelling.
    with app.app_context():
        with db.new_session() as s:
            failed = s.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.event == "login_failed", AuditEvent.detail.is_(None)))
    assert failed == limit
    response, _, _ = login_with_captcha(app.test_client(), email)
    assert response.status_code == 429


def test_sec42_an_unsolved_captcha_tests_no_password(app, make_voter, monkeypatch):
    from reassort.procedures import accounts
    email = get_voter(app, make_voter()).email
    checked = []
    monkeypatch.setattr(accounts, "check_secret", lambda secret, hashed: checked.append(1) or False)
    login_with_captcha(app.test_client(), email, PASSWORD, solve=False)
    assert checked == []


# -- SEC-44: one rendering per challenge, kept ----------------------------------------------

def test_sec44_twenty_fetches_of_one_image_give_one_rendering(client, renderings):
    challenge = challenge_of(client.get("/connexion"))
    images = [client.get(f"/captcha/image/{challenge}.png") for _ in range(20)]
    assert {r.status_code for r in images} == {200}
    assert len({r.data for r in images}) == 1 and renderings["image"] == 1


def test_sec44_the_audio_is_rendered_once_too_and_kept_across_workers(app, client, renderings):
    challenge = challenge_of(client.get("/connexion"))
    first = client.get(f"/captcha/audio/{challenge}.wav").data
    # Another app on the same database (another worker, another VM) serves the kept bytes.
    other = app.test_client()
    other.set_cookie("reassort_session", client.get_cookie("reassort_session").value)
    assert [other.get(f"/captcha/audio/{challenge}.wav").data for _ in range(3)] == [first] * 3
    assert renderings == {"image": 0, "audio": 1}


def test_sec44_a_page_shown_again_reuses_the_live_challenge(client, renderings):
    challenges = {challenge_of(client.get("/connexion")) for _ in range(10)}
    assert len(challenges) == 1
    challenge = challenges.pop()
    client.get(f"/captcha/image/{challenge}.png")
    assert challenge_of(client.get("/connexion")) == challenge
    assert renderings["image"] == 1


def test_sec44_renderings_are_limited_per_address(settings, request, renderings):
    settings["CAPTCHA_RENDERS_PER_IP"] = "3 per minute"
    client = request.getfixturevalue("client")
    app = request.getfixturevalue("app")
    statuses = []
    for _ in range(4):
        # « Afficher un autre CAPTCHA » posts the form back: a new challenge each time.
        challenge = challenge_of(post_form(client, "/connexion", {"captcha_action": "nouveau"}))
        statuses.append(client.get(f"/captcha/image/{challenge}.png").status_code)
    assert statuses == [200, 200, 200, 429] and renderings["image"] == 3
    # Another address has its own budget; kept bytes are served whatever the budget.
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    challenge = challenge_of(other.get("/connexion"))
    assert other.get(f"/captcha/image/{challenge}.png").status_code == 200
    assert [other.get(f"/captcha/image/{challenge}.png").status_code for _ in range(5)] == [200] * 5
    assert tallies(app)[("throttled", "captcha_render")] == 1


def test_sec44_a_used_challenge_is_never_served_nor_rendered_again(app, client, make_voter, renderings):
    email = get_voter(app, make_voter()).email
    page = client.get("/connexion")
    challenge = challenge_of(page)
    cookie = client.get_cookie("reassort_session").value
    client.get(f"/captcha/image/{challenge}.png")
    client.post("/connexion", data={"email": email, "password": PASSWORD, "captcha": answer(app, challenge),
                                    "csrf_token": csrf_of(page)})
    replay = app.test_client()
    replay.set_cookie("reassort_session", cookie)  # the session as it was before the answer
    assert replay.get(f"/captcha/image/{challenge}.png").status_code == 404
    assert renderings["image"] == 1
    with app.app_context():
        with db.new_session() as s:
            row = s.get(CaptchaChallenge, challenge)
            assert row.used and row.image is None and row.audio is None  # the bytes are gone


# -- SEC-44: unauthenticated GETs write no row per request --------------------------------------

def test_sec44_login_page_gets_write_no_captcha_row(app, client):
    for _ in range(20):
        client.get("/connexion")
    for _ in range(20):
        app.test_client().get("/connexion")  # no cookie: a new session each time
    assert rows(app, CaptchaChallenge) == 0


def test_sec44_captcha_rows_stay_bounded_per_session(app, client):
    for _ in range(6):
        # « Afficher un autre CAPTCHA » posts the form back: a new challenge each time.
        challenge = challenge_of(post_form(client, "/connexion", {"captcha_action": "nouveau"}))
        assert client.get(f"/captcha/image/{challenge}.png").status_code == 200
    assert rows(app, CaptchaChallenge) == 1  # each new challenge replaced the previous one's row


def test_sec44_expired_captcha_rows_are_deleted(app, client, clock):
    challenge = challenge_of(client.get("/connexion"))
    client.get(f"/captcha/image/{challenge}.png")
    clock.advance(app.config["CAPTCHA_MAX_AGE"] + 1)
    other = app.test_client()
    other.get(f"/captcha/image/{challenge_of(other.get('/connexion'))}.png")
    with app.app_context():
        with db.new_session() as s:
            assert s.get(CaptchaChallenge, challenge) is None


@pytest.mark.parametrize("path, event, detail", [
    ("/reassort/regenerer", "link_invalid", "missing"),
    ("/reassort/lien/pas-un-jeton", "link_invalid", "invalid"),
    ("/activation/pas-un-jeton", "activation_link_invalid", "invalid"),
])
def test_sec44_tokenless_gets_are_counted_not_written(app, client, path, event, detail):
    before = rows(app, AuditEvent)
    statuses = {client.get(path).status_code for _ in range(20)}
    assert statuses == {400}
    assert rows(app, AuditEvent) == before
    assert tallies(app)[(event, detail)] == 20


def test_sec44_the_429_handler_counts_instead_of_writing(settings, request):
    settings["RATELIMIT_PER_IP"] = "2 per minute"
    client = request.getfixturevalue("client")
    app = request.getfixturevalue("app")
    token = csrf_of(client.get("/connexion"))
    statuses = [client.post("/connexion", data={"email": "x@y.fr", "password": "x", "csrf_token": token,
                                                "captcha": "0"}).status_code for _ in range(12)]
    assert statuses.count(429) == 10
    with app.app_context():
        with db.new_session() as s:
            assert s.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.event == "throttled")) == 0
            assert audit.counts(s)["throttled"] == 10  # still in the counts the IT team reads
    assert tallies(app)[("throttled", "auth.login")] == 10
