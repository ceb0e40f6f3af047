"""Accounts: login check and activation (password + question défi).

Activation links are single use and latest only: the token carries the voter's
``activation_generation``, bumped by each mail sent and by the activation itself.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import tokens
from hashing import bcrypt_check, bcrypt_hash, normalise_answer
from models import Voter


def _rounds() -> int:
    return int(current_app.config["BCRYPT_ROUNDS"])


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def authenticate(s: Session, email: str, password: str) -> Voter | None:
    """The voter with this address and password; same work whether or not it exists."""
    typed = normalise_email(email)
    # No address of record holds a NUL, and PostgreSQL refuses one in a query
    # parameter (DataError, a 500): such an address is simply unknown.
    voter = None if "\x00" in typed else s.scalar(select(Voter).where(Voter.email == typed))
    ok = bcrypt_check(password, voter.password_hash if voter else None, _rounds())
    return voter if ok else None


def activation_link(voter: Voter) -> str:
    token = tokens.make(tokens.ACTIVATION, voter.id, voter.activation_generation)
    return current_app.config["PUBLIC_URL"].rstrip("/") + "/activation/" + token


def voter_for_activation(s: Session, token: str) -> Voter | None:
    """The voter of a genuine, unexpired, unused activation token, else ``None``."""
    claim = tokens.read(tokens.ACTIVATION, token, int(current_app.config["ACTIVATION_LINK_MAX_AGE"]))
    if claim is None:
        return None
    voter = s.get(Voter, claim.voter_id)
    if voter is None or voter.activation_generation != claim.generation:
        return None
    return voter


def activate(s: Session, voter: Voter, generation: int, password: str, question_id: str, answer: str) -> bool:
    """Set password and question défi once: a compare-and-swap on the generation."""
    result = s.execute(
        update(Voter)
        .where(Voter.id == voter.id, Voter.activation_generation == generation)
        .values(password_hash=bcrypt_hash(password, _rounds()), question_id=question_id,
                answer_hash=bcrypt_hash(normalise_answer(answer), _rounds()),
                activation_generation=Voter.activation_generation + 1,
                session_epoch=Voter.session_epoch + 1)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1
