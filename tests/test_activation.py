"""Account activation: single-use, latest-only link that expires (SPEC §3, issue 2)."""

import re

import pytest

from reassort.procedures import accounts
from reassort.storage.models import Voter
from reassort.web.extensions import db
from tests.conftest import csrf_of, get_voter, login

NEW_PASSWORD = "correct cheval pile agrafe"


def activation_token(app, voter_id, bump=True):
    with app.app_context():
        s = db.new_session()
        voter = s.get(Voter, voter_id)
        if bump:
            voter.activation_generation += 1
            s.commit()
        link = accounts.activation_link(voter.id, voter.activation_generation)
        s.close()
    return link.rsplit("/activation/", 1)[1]


def activate(client, token, password=NEW_PASSWORD, confirm=None, question="q2", answer="Le Petit Prince"):
    page = client.get(f"/activation/{token}")
    if page.status_code != 200:
        return page
    return client.post(f"/activation/{token}", data={
        "password": password, "confirm": confirm or password, "question": question, "answer": answer,
        "csrf_token": csrf_of(page)})


def test_activation_sets_password_and_question(app, client, make_voter):
    voter_id = make_voter(activated=False)
    response = activate(client, activation_token(app, voter_id))
    assert response.status_code == 302
    voter = get_voter(app, voter_id)
    assert voter.question_id == "q2" and voter.password_hash.startswith("k1$$2")  # keyed pre-hash, then bcrypt
    assert NEW_PASSWORD not in voter.password_hash
    assert login(client, voter.email, NEW_PASSWORD).status_code == 302


def test_activation_link_is_single_use(app, client, make_voter):
    voter_id = make_voter(activated=False)
    token = activation_token(app, voter_id)
    assert activate(client, token).status_code == 302
    again = client.get(f"/activation/{token}")
    assert again.status_code == 400
    assert "pas valide" in again.get_data(as_text=True)


def test_activation_link_expires(app, client, make_voter, clock):
    voter_id = make_voter(activated=False)
    token = activation_token(app, voter_id)
    clock.advance(app.config["ACTIVATION_LINK_MAX_AGE"])
    assert client.get(f"/activation/{token}").status_code == 200
    clock.advance(1)
    assert client.get(f"/activation/{token}").status_code == 400


def test_activation_newer_link_voids_older(app, client, make_voter):
    voter_id = make_voter(activated=False)
    old = activation_token(app, voter_id)
    new = activation_token(app, voter_id)
    assert client.get(f"/activation/{old}").status_code == 400
    assert client.get(f"/activation/{new}").status_code == 200


def test_activation_tampered_link_refused(app, client, make_voter):
    voter_id = make_voter(activated=False)
    token = activation_token(app, voter_id)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/activation/{tampered}").status_code == 400


@pytest.mark.parametrize("password, message", [
    ("court", "au moins 12 caractères"),
    ("azertyuiop123", "trop courant"),
    ("aaaaaaaaaaaaaaaa", "trop courant"),
    ("x" * 129, "ne peut dépasser"),
])
def test_activation_password_rules(app, client, make_voter, password, message):
    voter_id = make_voter(activated=False)
    response = activate(client, activation_token(app, voter_id), password=password)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert get_voter(app, voter_id).password_hash is None


def test_activation_long_passphrase_with_accents_accepted(app, client, make_voter):
    voter_id = make_voter(activated=False)
    phrase = "Ma phrase de passe très longue, avec des accents élégants — et plus de 72 octets au total !!"
    assert len(phrase.encode()) > 72
    assert activate(client, activation_token(app, voter_id), password=phrase).status_code == 302
    assert login(client, get_voter(app, voter_id).email, phrase).status_code == 302
    assert login(client, get_voter(app, voter_id).email, phrase[:-1]).status_code == 200


def test_activation_errors_tied_to_fields(app, client, make_voter):
    voter_id = make_voter(activated=False)
    response = activate(client, activation_token(app, voter_id), password="court")
    html = response.get_data(as_text=True)
    assert re.search(r'id="password"[^>]*aria-describedby="[^"]*password-erreur', html) or \
        re.search(r'aria-describedby="[^"]*password-erreur[^"]*"[^>]*id="password"', html)
    assert 'id="password-erreur"' in html


def test_activation_question_must_come_from_vetted_list(app, client, make_voter):
    voter_id = make_voter(activated=False)
    response = activate(client, activation_token(app, voter_id), question="date de naissance")
    assert response.status_code == 200
    assert get_voter(app, voter_id).question_id is None


def test_password_field_allows_paste_and_managers(app, client, make_voter):
    voter_id = make_voter(activated=False)
    html = client.get(f"/activation/{activation_token(app, voter_id)}").get_data(as_text=True)
    assert 'autocomplete="new-password"' in html
    assert "onpaste" not in html
