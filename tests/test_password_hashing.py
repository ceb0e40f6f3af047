"""SEC-47: the bcrypt pre-hash is keyed with the pepper; unkeyed hashes still verify and are
replaced at the next success (told apart by the ``k1$`` mark)."""

from __future__ import annotations

import base64
import hashlib

import bcrypt
import pytest
from sqlalchemy import update

from reassort.rules.hashing import KEYED, bcrypt_check, bcrypt_hash, needs_upgrade, normalise_answer
from reassort.storage.models import Voter
from reassort.web.extensions import db
from tests.conftest import ANSWER, PASSWORD, get_voter, login
from tests.flows import ask_link

pytestmark = pytest.mark.each_database

PEPPER = "un-poivre-de-test-Xq7vR2mK9pLw4sTn8bYc"


def unkeyed(secret: str, rounds: int = 4) -> str:
    """A hash as written before the review: bcrypt over base64(SHA-256(secret))."""
    return bcrypt.hashpw(base64.b64encode(hashlib.sha256(secret.encode()).digest()), bcrypt.gensalt(rounds)).decode()


def test_sec47_a_hash_leaked_elsewhere_cannot_be_tested_against_ours():
    stored = bcrypt_hash(PASSWORD, 4, PEPPER)
    assert stored.startswith(KEYED + "$2") and not needs_upgrade(stored)
    inner = stored[len(KEYED):].encode()
    # Another service's SHA-256 of the same password ("shucking") does not open our bcrypt.
    assert not bcrypt.checkpw(base64.b64encode(hashlib.sha256(PASSWORD.encode()).digest()), inner)
    assert bcrypt_check(PASSWORD, stored, 4, PEPPER)
    assert not bcrypt_check(PASSWORD, stored, 4, PEPPER + "x")  # without our pepper: nothing
    assert not bcrypt_check(PASSWORD + "x", stored, 4, PEPPER)


def test_sec47_unkeyed_hashes_still_verify():
    old = unkeyed(PASSWORD)
    assert needs_upgrade(old) and bcrypt_check(PASSWORD, old, 4, PEPPER)
    assert not bcrypt_check("autre chose", old, 4, PEPPER)
    assert not needs_upgrade(None)


def set_hashes(app, voter_id, **values):
    with app.app_context():
        with db.new_session() as s:
            s.execute(update(Voter).where(Voter.id == voter_id).values(**values))
            s.commit()


def test_sec47_an_unkeyed_password_hash_is_upgraded_at_the_next_successful_login(app, client, make_voter):
    voter_id = make_voter()
    email = get_voter(app, voter_id).email
    old = unkeyed(PASSWORD)
    set_hashes(app, voter_id, password_hash=old)
    assert login(client, email, "pas le bon mot de passe").status_code == 200
    assert get_voter(app, voter_id).password_hash == old  # a failure changes nothing
    assert login(client, email).status_code == 302
    upgraded = get_voter(app, voter_id).password_hash
    assert upgraded.startswith(KEYED) and bcrypt_check(PASSWORD, upgraded, 4, app.config["HASH_PEPPER"])
    assert login(app.test_client(), email).status_code == 302
    assert get_voter(app, voter_id).password_hash == upgraded  # upgraded once


def test_sec47_an_unkeyed_answer_hash_is_upgraded_at_the_next_right_answer(app, logged_in, outbox):
    client, voter_id, _ = logged_in
    set_hashes(app, voter_id, answer_hash=unkeyed(normalise_answer(ANSWER)))
    ask_link(client)
    assert len(outbox()) == 1
    assert get_voter(app, voter_id).answer_hash.startswith(KEYED)
