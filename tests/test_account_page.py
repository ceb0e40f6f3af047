"""« Mon compte » (SPEC §1b): change the password, or the question défi and its answer, each after the
current password (one bcrypt check, the per-voter limit reserved first); a notice to the address of
record; a new password ends the voter's other sessions, never this one."""

from __future__ import annotations

import bcrypt
import pytest
from sqlalchemy import select

from reassort.procedures import account_changes, recovery
from reassort.storage.models import AuditEvent, Voter
from reassort.web.extensions import db
from tests.account_flows import (
    NEW_PASSWORD,
    ask_account_link,
    change_challenge,
    change_password,
    last_reset_link,
    set_new_password,
)
from tests.conftest import ANSWER, PASSWORD, get_voter, login, page_text
from tests.flows import ask_link

pytestmark = pytest.mark.each_database


def audit_rows(app, event_name: str) -> list[tuple]:
    with app.app_context():
        with db.new_session() as s:
            return [(e.voter_id, e.detail) for e in
                    s.scalars(select(AuditEvent).where(AuditEvent.event == event_name).order_by(AuditEvent.id))]


@pytest.fixture
def bcrypt_checks(monkeypatch):
    counted = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda *a: counted.append(1) or real(*a))
    return counted


@pytest.fixture
def bcrypt_hashes(monkeypatch):
    counted = []
    real = bcrypt.hashpw
    monkeypatch.setattr(bcrypt, "hashpw", lambda *a: counted.append(1) or real(*a))
    return counted


@pytest.mark.parametrize("url", ["/mon-compte", "/mon-compte/mot-de-passe", "/mon-compte/question-defi"])
def test_mon_compte_needs_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response.headers["Location"] == "/connexion"


def test_mon_compte_shows_the_address_and_the_question_never_a_secret(app, logged_in):
    client, _, email = logged_in
    page = page_text(client.get("/mon-compte"))
    assert email in page and "Quel était le nom de votre meilleur ami" in page
    assert ANSWER not in page and PASSWORD not in page
    assert "Mon compte" in page_text(client.get("/"))  # reached from the header and the home page


# -- the password ----------------------------------------------------------------------------

def test_a_wrong_current_password_changes_nothing_after_one_bcrypt_check(app, logged_in, outbox, bcrypt_checks,
                                                                        bcrypt_hashes):
    client, voter_id, _ = logged_in
    before = get_voter(app, voter_id)
    response = change_password(client, "pas le bon mot de passe")
    assert response.status_code == 200 and "Mot de passe actuel incorrect." in page_text(response)
    assert bcrypt_checks == [1] and bcrypt_hashes == []  # the new password is not even hashed
    after = get_voter(app, voter_id)
    assert (after.password_hash, after.session_epoch) == (before.password_hash, before.session_epoch)
    assert outbox() == [] and audit_rows(app, "account_change_refused") == [(voter_id, "password")]


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, logged_in, outbox):
    client, voter_id, email = logged_in
    other = app.test_client()
    assert login(other, email).status_code == 302
    response = change_password(client, PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/mon-compte"
    assert "Votre mot de passe a été changé" in page_text(client.get("/mon-compte"))
    assert client.get("/").status_code == 200  # this session stays
    assert other.get("/").status_code == 302  # the other one has ended
    assert login(app.test_client(), email, PASSWORD).status_code == 200
    assert login(app.test_client(), email, NEW_PASSWORD).status_code == 302
    notice = outbox()[-1]
    assert (notice["to"], notice["subject"]) == (email, "Votre mot de passe a été modifié")
    assert NEW_PASSWORD not in notice["body"] and PASSWORD not in notice["body"]
    assert audit_rows(app, "password_changed") == [(voter_id, None)]


def test_a_password_change_kills_an_outstanding_reset_link(app, logged_in, outbox):
    client, _, email = logged_in
    ask_account_link(app.test_client(), email)
    link = last_reset_link(outbox())
    change_password(client, PASSWORD)
    assert set_new_password(app.test_client(), "une phrase de passe du voleur", link=link).status_code == 400


@pytest.mark.parametrize("new, confirm, message", [
    ("trop court", None, "au moins 12 caractères"),
    ("motdepasse123", None, "trop courant"),
    (NEW_PASSWORD, "autre chose encore", "ne sont pas identiques"),
], ids=["short", "common", "mismatch"])
def test_the_new_password_follows_the_activation_rules(app, logged_in, new, confirm, message):
    client, voter_id, _ = logged_in
    before = get_voter(app, voter_id).password_hash
    response = change_password(client, PASSWORD, new, confirm)
    assert response.status_code == 200 and message in page_text(response)
    assert get_voter(app, voter_id).password_hash == before


def test_a_change_is_told_after_the_answer(app, logged_in, outbox):
    client, _, _ = logged_in
    from tests.conftest import csrf_of

    page = client.get("/mon-compte/mot-de-passe")
    response = client.post("/mon-compte/mot-de-passe", data={
        "current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf_of(page)},
        buffered=False)
    assert response.status_code == 303 and outbox() == []
    response.close()
    assert len(outbox()) == 1


# -- the question défi ---------------------------------------------------------------------------

def test_a_new_question_defi_and_answer_after_the_current_password(app, logged_in, outbox):
    client, voter_id, email = logged_in
    response = change_challenge(client, PASSWORD, "q4", "Astronaute")
    assert response.status_code == 303
    assert "Votre question défi a été changée" in page_text(client.get("/mon-compte"))
    voter = get_voter(app, voter_id)
    assert voter.question_id == "q4" and "Astronaute" not in voter.answer_hash
    # The old answer no longer opens the réassort; the new one does (case and accents ignored).
    assert "Les informations saisies ne permettent pas" in page_text(ask_link(client, answer=ANSWER))
    assert ask_link(client, answer="  astronaute ").status_code == 200
    assert audit_rows(app, "link_requested") == [(voter_id, "email")]
    notice = [m for m in outbox() if m["to"] == email][-1]
    assert notice["subject"] == "Votre question défi a été modifiée" and "Astronaute" not in notice["body"]
    assert audit_rows(app, "challenge_changed") == [(voter_id, None)]


def test_a_wrong_password_keeps_the_question_defi_and_forgets_the_answer_typed(app, logged_in, outbox,
                                                                                 bcrypt_checks, bcrypt_hashes):
    client, voter_id, _ = logged_in
    before = get_voter(app, voter_id)
    response = change_challenge(client, "pas le bon mot de passe", "q4", "Astronaute")
    assert response.status_code == 200 and "Mot de passe actuel incorrect." in page_text(response)
    assert "Astronaute" not in page_text(response)
    assert bcrypt_checks == [1] and bcrypt_hashes == []  # nor the new answer hashed
    after = get_voter(app, voter_id)
    assert (after.question_id, after.answer_hash) == (before.question_id, before.answer_hash)
    assert outbox() == [] and audit_rows(app, "account_change_refused") == [(voter_id, "challenge")]


def test_only_a_vetted_question_is_taken(app, logged_in):
    client, voter_id, _ = logged_in
    response = change_challenge(client, PASSWORD, "ma date de naissance", "1962")
    assert response.status_code == 200 and get_voter(app, voter_id).question_id == "q1"


def test_a_new_answer_is_no_way_around_a_suspension(app, logged_in):
    client, voter_id, _ = logged_in
    with app.app_context():
        with db.new_session() as s:
            s.get(Voter, voter_id).challenge_locked_until = app.config["CLOCK"]() + 3600
            s.commit()
    change_challenge(client, PASSWORD, "q4", "Astronaute")
    with app.app_context():
        assert recovery.is_locked(get_voter(app, voter_id))


# -- limits and concurrency ------------------------------------------------------------------------

def test_sec41_one_per_voter_limit_for_both_forms_reserved_before_the_bcrypt_check(settings, request):
    settings["ACCOUNT_LIMIT_PER_VOTER"] = "3 per hour"
    client, voter_id, _ = request.getfixturevalue("logged_in")
    checks = request.getfixturevalue("bcrypt_checks")
    statuses = [change_password(client, "pas le bon mot de passe").status_code for _ in range(3)]
    # The other form draws on the same allowance: the right password is not even checked.
    statuses += [change_challenge(client, PASSWORD).status_code]
    assert statuses == [200, 200, 200, 429]
    assert len(checks) == 3
    assert get_voter(request.getfixturevalue("app"), voter_id).question_id == "q1"


def test_two_password_changes_at_once_apply_one(app, logged_in):
    _, voter_id, _ = logged_in
    with app.app_context():
        first, second = db.new_session(), db.new_session()
        try:
            a, b = first.get(Voter, voter_id), second.get(Voter, voter_id)  # both read the same hash
            assert account_changes.change_password(first, a, PASSWORD, "première phrase de passe") is not None
            assert account_changes.change_password(second, b, PASSWORD, "seconde phrase de passe") is None
        finally:
            first.close()
            second.close()
    assert login(app.test_client(), get_voter(app, voter_id).email, "première phrase de passe").status_code == 302
