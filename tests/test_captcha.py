"""Self-hosted CAPTCHA: single use, expiring, not replayable, with real French audio (SEC-12, SEC-38)."""

import io
import re
import wave
from array import array

import pytest

from reassort.procedures import captchas
from tests.conftest import CODE, PASSWORD, csrf_of, get_voter, page_text


@pytest.fixture
def settings(settings):
    settings["CAPTCHA_ENABLED"] = True
    return settings


def challenge_of(response) -> str:
    match = re.search(r"/captcha/image/([\w-]+)\.png", response.get_data(as_text=True))
    assert match, "no CAPTCHA image in page"
    return match.group(1)


def answer(app, challenge_id):
    with app.app_context():
        return captchas.answer_for(challenge_id)


def login_with_captcha(client, email, password=PASSWORD, solve=True):
    page = client.get("/connexion")
    challenge = challenge_of(page)
    typed = answer(client.application, challenge) if solve else "000000"
    return client.post("/connexion", data={"email": email, "password": password, "captcha": typed,
                                           "csrf_token": csrf_of(page)}), challenge, csrf_of(page)


def test_login_with_solved_captcha(client, make_voter):
    email = get_voter(client.application, make_voter()).email
    response, _, _ = login_with_captcha(client, email)
    assert response.status_code == 302


def test_login_with_wrong_captcha_refused(client, make_voter):
    email = get_voter(client.application, make_voter()).email
    response, _, _ = login_with_captcha(client, email, solve=False)
    assert response.status_code == 200
    assert "CAPTCHA erroné" in page_text(response)


def test_captcha_replay_refused(client, make_voter):
    """Resending the same cookie and the same solved answer fails the second time."""
    email = get_voter(client.application, make_voter()).email
    page = client.get("/connexion")
    challenge = challenge_of(page)
    cookie = client.get_cookie("reassort_session").value
    data = {"email": email, "password": "mauvais mot de passe", "captcha": answer(client.application, challenge),
            "csrf_token": csrf_of(page)}
    client.post("/connexion", data=data)
    client.set_cookie("reassort_session", cookie)
    replay = client.post("/connexion", data={**data, "password": PASSWORD})
    assert replay.status_code == 200
    assert "CAPTCHA erroné" in page_text(replay)


def test_captcha_expires(client, make_voter, clock):
    email = get_voter(client.application, make_voter()).email
    page = client.get("/connexion")
    challenge = challenge_of(page)
    clock.advance(client.application.config["CAPTCHA_MAX_AGE"] + 1)
    response = client.post("/connexion", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(page),
                                               "captcha": answer(client.application, challenge)})
    assert response.status_code == 200


def test_captcha_on_vote_code_form(client, make_voter):
    email = get_voter(client.application, make_voter()).email
    login_with_captcha(client, email)
    page = client.get("/vote")
    challenge = challenge_of(page)
    wrong = client.post("/vote", data={"code": CODE, "captcha": "000000", "csrf_token": csrf_of(page)})
    assert wrong.status_code == 200 and "Le code de vote ou le CAPTCHA est incorrect" in page_text(wrong)
    page = client.get("/vote")
    challenge = challenge_of(page)
    right = client.post("/vote", data={"code": CODE, "captcha": answer(client.application, challenge),
                                       "csrf_token": csrf_of(page)})
    assert right.status_code == 302


def test_captcha_image_is_png_and_alt_text_is_not_the_answer(client):
    page = client.get("/connexion")
    challenge = challenge_of(page)
    image = client.get(f"/captcha/image/{challenge}.png")
    assert image.status_code == 200 and image.data.startswith(b"\x89PNG")
    html = page_text(page)
    alt = re.search(r'alt="([^"]+)"', html).group(1)
    assert "CAPTCHA" in alt and answer(client.application, challenge) not in html


def test_captcha_audio_is_real_audio(client):
    page = client.get("/connexion")
    challenge = challenge_of(page)
    audio = client.get(f"/captcha/audio/{challenge}.wav")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    with wave.open(io.BytesIO(audio.data)) as w:
        frames = array("h", w.readframes(w.getnframes()))
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (16000, 2, 1)
        assert 4.0 < w.getnframes() / w.getframerate() < 12.0
    # 16-bit PCM: speech swings far from zero, the noise under it does not.
    assert max(abs(s) for s in frames) > 12000


def test_captcha_refresh_button_gives_a_new_challenge(client):
    login_page = client.get("/connexion")
    first = challenge_of(login_page)
    assert "Afficher un autre CAPTCHA" in page_text(login_page)
    page = client.post("/connexion", data={"csrf_token": csrf_of(login_page), "captcha_action": "nouveau"})
    second = challenge_of(page)
    assert first != second
    assert client.get(f"/captcha/image/{first}.png").status_code == 404


def test_captcha_not_served_to_another_session(app, client):
    challenge = challenge_of(client.get("/connexion"))
    other = app.test_client()
    other.get("/connexion")
    assert other.get(f"/captcha/image/{challenge}.png").status_code == 404
