"""Every form, fed anything a client can send, answers 200/302/400/429/503 — never a 500.

Login, vote code, activation, question défi, regeneration and the account pages (forgotten
password, activation mail asked again, new password, « Mon compte ») each get url-encoded
text (huge, control characters, NUL, mixed scripts), raw bytes that are not UTF-8,
multipart bodies with fields sent as files, JSON bodies, missing, repeated and
extra fields, and a mangled CSRF token now and then.  Beyond the status, each test
checks that a refused submission changed nothing (SPEC §2 "Bad input anywhere").
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from reassort.procedures import links
from reassort.rules import tokens
from reassort.storage.models import AuditEvent
from reassort.web.extensions import db
from tests.conftest import ANSWER, CODE, NIR10, NUMEN, PASSWORD, csrf_of, get_voter, login
from tests.flows import PERSONAL_EMAIL, PHONE
from tests.fuzzing import NASTY, OPEN_LIMITS, assert_clean, field_text, form_submission, fuzz_settings


@pytest.fixture
def settings(settings):
    settings.update(OPEN_LIMITS)
    return settings


def count_events(app, event: str) -> int:
    with app.app_context():
        with db.new_session() as s:
            return s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.event == event))


def post(client, url: str, submission: dict):
    return client.post(url, **submission)


def test_login_form_survives_any_input(app, client, make_voter):
    voter_id = make_voter()
    email = get_voter(app, voter_id).email

    @fuzz_settings()
    @given(data=st.data())
    def check(data):
        page = client.get("/connexion")
        assert_clean(page)
        fields = {"email": st.sampled_from([email, email.upper(), " " + email, "inconnu@education.gouv.fr",
                                            email + "\x00", "\x00"]),
                  "password": st.sampled_from(["mauvais mot de passe", PASSWORD + " ", "x" * 200])}
        response = post(client, "/connexion", data.draw(form_submission(fields, csrf_of(page))))
        assert_clean(response)
        # No fuzzed submission carries the right password: nobody gets in.
        assert response.status_code != 302

    check()


def test_vote_code_form_survives_any_input(app, logged_in):
    client, voter_id, _ = logged_in
    digest_before = get_voter(app, voter_id).code_digest

    @fuzz_settings()
    @given(data=st.data())
    def check(data):
        page = client.get("/vote")
        assert_clean(page)
        fields = {"code": st.sampled_from([CODE, " " + CODE + "\t", CODE.lower(), CODE[:-1], CODE + "\x00"])}
        response = post(client, "/vote", data.draw(form_submission(fields, csrf_of(page))))
        assert_clean(response)
        # The gate only reads the code: whatever came in, the stored code is the same.
        assert get_voter(app, voter_id).code_digest == digest_before

    check()


def test_question_defi_form_survives_any_input(app, logged_in, outbox):
    client, voter_id, _ = logged_in

    @fuzz_settings()
    @given(data=st.data())
    def check(data):
        page = client.get("/reassort/question-defi")
        assert_clean(page)
        before = get_voter(app, voter_id)
        sent_before = len(outbox())
        fields = {"answer": st.sampled_from([ANSWER, ANSWER.upper(), " eleonore ", "Camille"]),
                  "identifier": st.sampled_from([NUMEN, NUMEN.lower(), NIR10, "1" + NIR10[1:], "12E0000000ABC"]),
                  "channel": st.sampled_from(["sms", "email", "fax"]),
                  "phone": st.sampled_from([PHONE, "06 12 34 56", "+33 1 23 45 67 89"]),
                  "personal_email": st.sampled_from([PERSONAL_EMAIL, before.email, "pas une adresse"])}
        response = post(client, "/reassort/question-defi", data.draw(form_submission(fields, csrf_of(page))))
        assert_clean(response)
        after = get_voter(app, voter_id)
        # A link sent redirects to « Lien envoyé » (post/redirect/get); anything else is shown at once.
        sent = response.status_code == 303 and response.headers["Location"] == "/reassort/lien-envoye"
        # A link is sent (one message, the generation moved) or nothing is.
        assert len(outbox()) == sent_before + (1 if sent else 0)
        assert (after.link_generation != before.link_generation) is bool(sent)
        assert after.code_digest == before.code_digest

    check()


def test_activation_form_survives_any_input(app, client, make_voter):
    voter_id = make_voter(activated=False)

    @fuzz_settings()
    @given(data=st.data())
    def check(data):
        before = get_voter(app, voter_id)
        with app.app_context():
            token = links.make(tokens.ACTIVATION, voter_id, before.activation_generation)
        url = f"/activation/{token}"
        page = client.get(url)
        assert_clean(page)
        good = "une phrase de passe toute neuve"
        fields = {"password": st.sampled_from([good, "court", "a" * 200]),
                  "confirm": st.sampled_from([good, "autre chose"]),
                  "question": st.sampled_from(["q1", "q8", "q99", ""]),
                  "answer": st.sampled_from(["Camille", "ab", "x" * 101] + NASTY)}
        response = post(client, url, data.draw(form_submission(fields, csrf_of(page))))
        assert_clean(response)
        after = get_voter(app, voter_id)
        changed = (after.password_hash != before.password_hash, after.question_id != before.question_id,
                   after.answer_hash != before.answer_hash)
        if response.status_code == 302:
            # Password and answer re-hashed (fresh salts), the question possibly the same one.
            assert changed[0] and changed[2] and after.question_id in ("q1", "q8")
            assert after.activation_generation == before.activation_generation + 1
        else:
            # Refused: nothing of it was written, not even part.
            assert not any(changed) and after.activation_generation == before.activation_generation

    check()


def test_regeneration_form_survives_any_input(app, client, make_voter):
    voter_id = make_voter()

    @fuzz_settings()
    @given(data=st.data())
    def check(data):
        before = get_voter(app, voter_id)
        regenerated_before = count_events(app, "code_regenerated")
        with app.app_context():
            token = links.make(tokens.REISSUE, voter_id, before.link_generation)
        with client.session_transaction() as session:
            session["reissue"] = token  # as /reassort/lien/<token> leaves it (views/reassort.py)
        page = client.get("/reassort/regenerer")
        assert_clean(page)
        extra = {"x": field_text, "code": field_text}
        response = post(client, "/reassort/regenerer", data.draw(form_submission(extra, csrf_of(page))))
        assert_clean(response)
        after = get_voter(app, voter_id)
        if response.status_code == 200 and "Votre nouveau code" in response.get_data(as_text=True):
            assert after.code_digest != before.code_digest
            assert after.link_generation != before.link_generation
            assert count_events(app, "code_regenerated") == regenerated_before + 1
        else:
            assert (after.code_digest, after.link_generation) == (before.code_digest, before.link_generation)
            assert count_events(app, "code_regenerated") == regenerated_before

    check()


def test_account_link_forms_survive_any_input(app, make_voter, outbox, caplog):
    """« Mot de passe oublié ? » and « Je n'ai pas reçu mon lien d'activation », the mail after the answer too."""
    emails = [get_voter(app, make_voter()).email, get_voter(app, make_voter(activated=False)).email]
    client = app.test_client()

    @fuzz_settings()
    @given(data=st.data(), url=st.sampled_from(["/mot-de-passe-oublie", "/nouveau-lien-activation"]))
    def check(data, url):
        page = client.get(url)
        assert_clean(page)
        fields = {"email": st.sampled_from(emails + [emails[0].upper(), "inconnu@education.gouv.fr", "pas une adresse",
                                                     emails[1] + "\x00", "\x00@x.fr"])}
        sent_before = len(outbox())
        # buffered: the response is closed, so the mail it decided on leaves (or not) before we look.
        response = client.post(url, buffered=True, **data.draw(form_submission(fields, csrf_of(page))))
        assert_clean(response)
        assert len(outbox()) <= sent_before + 1
        if len(outbox()) > sent_before:
            assert response.status_code == 303 and outbox()[-1]["to"] in emails
        # Whatever ran after the answer did not fail either.
        assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text

    check()


def test_reset_form_survives_any_input(app, client, make_voter):
    voter_id = make_voter(password_generation=tokens.fresh_generation())  # as a link sent leaves it

    @fuzz_settings()
    @given(data=st.data())
    def check(data):
        before = get_voter(app, voter_id)
        with app.app_context():
            token = links.make(tokens.PASSWORD_RESET, voter_id, before.password_generation)
        with client.session_transaction() as session:
            session["password_reset"] = token  # as /mot-de-passe/lien/<token> leaves it (views/account.py)
        page = client.get("/mot-de-passe/nouveau")
        assert_clean(page)
        good = "une phrase de passe toute neuve"
        fields = {"password": st.sampled_from([good, "court", "a" * 200] + NASTY),
                  "confirm": st.sampled_from([good, "autre chose"])}
        response = client.post("/mot-de-passe/nouveau", buffered=True,
                               **data.draw(form_submission(fields, csrf_of(page))))
        assert_clean(response)
        after = get_voter(app, voter_id)
        if response.status_code == 303:
            assert after.password_hash != before.password_hash
            assert after.password_generation != before.password_generation
            assert after.session_epoch == before.session_epoch + 1
        else:
            assert (after.password_hash, after.password_generation, after.session_epoch) == (
                before.password_hash, before.password_generation, before.session_epoch)
        assert after.code_digest == before.code_digest

    check()


@pytest.mark.parametrize("url", ["/mon-compte/mot-de-passe", "/mon-compte/question-defi"])
def test_mon_compte_forms_survive_any_input(app, logged_in, url):
    client, voter_id, _ = logged_in

    @fuzz_settings()
    @given(data=st.data())
    def check(data):
        page = client.get(url)
        assert_clean(page)
        before = get_voter(app, voter_id)
        # Never the right current password: nothing may change, whatever else comes.
        fields = {"current_password": st.sampled_from(["pas le bon", PASSWORD + " ", PASSWORD.upper()] + NASTY),
                  "password": st.sampled_from(["une phrase de passe toute neuve", "court"]),
                  "confirm": st.sampled_from(["une phrase de passe toute neuve", "autre"]),
                  "question": st.sampled_from(["q1", "q4", "q99", ""]),
                  "answer": st.sampled_from(["Camille", "ab"] + NASTY)}
        response = client.post(url, buffered=True, **data.draw(form_submission(fields, csrf_of(page))))
        assert_clean(response)
        assert response.status_code != 303
        after = get_voter(app, voter_id)
        assert (after.password_hash, after.question_id, after.answer_hash, after.session_epoch) == (
            before.password_hash, before.question_id, before.answer_hash, before.session_epoch)

    check()


POST_ROUTES = ["/connexion", "/vote", "/reassort/question-defi", "/reassort/regenerer", "/deconnexion",
               "/mot-de-passe-oublie", "/nouveau-lien-activation", "/mot-de-passe/nouveau",
               "/mon-compte/mot-de-passe", "/mon-compte/question-defi"]
CONTENT_TYPES = ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
                 "multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=xyz",
                 "application/json", "text/plain", "application/octet-stream", "", "*/*; q=\x00"]


def test_any_body_with_any_content_type_on_every_form(app, logged_in):
    client, _, email = logged_in
    token = {"value": csrf_of(client.get("/vote"))}

    @fuzz_settings(scale=1.5)
    @given(route=st.sampled_from(POST_ROUTES), content_type=st.sampled_from(CONTENT_TYPES),
           body=st.one_of(st.binary(max_size=400), st.just(b"code=%ff%00&csrf_token=")), with_token=st.booleans())
    def check(route, content_type, body, with_token):
        headers = {"X-CSRFToken": token["value"]} if with_token else {}
        response = client.post(route, data=body, content_type=content_type, headers=headers)
        assert_clean(response)
        if route == "/deconnexion" and response.status_code == 302:
            # A valid logout: log in again so that the next examples reach the voter's forms.
            assert login(client, email).status_code == 302
            token["value"] = csrf_of(client.get("/vote"))

    check()


def multipart(fields: dict, boundary: str = "limite-fuzz") -> tuple[bytes, str]:
    """A multipart body built by hand: the test client would spool a big one to a temporary
    file it never closes (a ResourceWarning of the harness, not of the app)."""
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("fields", [
    pytest.param({"email": "a" * 600_000, "password": "x"}, id="one-600kB-field"),
    pytest.param({f"champ{i}": "x" for i in range(1_500)}, id="1500-parts"),
])
def test_oversized_multipart_body_gets_a_french_413(client, fields):
    token = csrf_of(client.get("/connexion"))
    body, content_type = multipart({"csrf_token": token, **fields})
    response = client.post("/connexion", data=body, content_type=content_type)
    assert response.status_code == 413
    assert_clean(response)
    assert "Envoi trop volumineux" in response.get_data(as_text=True)
