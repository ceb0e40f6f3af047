"""Accounts: login check and activation (password + question défi).

Activation links are single use and latest only: the token carries the voter's
``activation_generation``, bumped by each mail sent and by the activation itself.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import audit, links, register
from reassort.rules import tokens
from reassort.rules.hashing import bcrypt_check, bcrypt_hash, normalise_answer
from reassort.storage.database import changed_rows
from reassort.storage.models import Voter


def _rounds() -> int:
    return runtime.setting("BCRYPT_ROUNDS")


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def _check_password(s: Session, email: str, password: str) -> Voter | None:
    """The voter with this address and password, deactivated or not; same work whether or not it exists."""
    typed = normalise_email(email)
    # No address of record holds a NUL, and PostgreSQL refuses one in a query
    # parameter (DataError, a 500): such an address is simply unknown.
    voter = None if "\x00" in typed else s.scalar(select(Voter).where(Voter.email == typed))
    ok = bcrypt_check(password, voter.password_hash if voter else None, _rounds())
    return voter if ok else None


def authenticate(s: Session, email: str, password: str) -> Voter | None:
    """The active voter with this address and password; same work whether or not it exists.

    A deactivated voter (struck off the register) is refused like a wrong password.
    """
    voter = _check_password(s, email, password)
    return None if register.is_deactivated(voter) else voter


ACTIVATION_PATH = "/activation/"


def log_in_attempt(s: Session, email: str, password: str, captcha_ok: bool) -> Voter | None:
    """The voter when address, password and CAPTCHA are all right; every attempt audited."""
    voter = _check_password(s, email, password)
    if register.is_deactivated(voter):
        # The same refusal as a wrong password; the trail says why (only the voter knows the password).
        audit.record(s, "login_failed", voter.id if voter else None, "deactivated")
        s.commit()
        return None
    if voter is not None and captcha_ok:
        audit.record(s, "login_ok", voter.id)
        s.commit()
        return voter
    audit.record(s, "login_failed", voter.id if voter else None, None if captcha_ok else "captcha")
    s.commit()
    return None


def end_all_sessions(s: Session, voter_id: int) -> None:
    """Log the voter out everywhere: every session holding the older epoch ends (SEC-33)."""
    s.execute(update(Voter).where(Voter.id == voter_id).values(session_epoch=Voter.session_epoch + 1)
              .execution_options(synchronize_session=False))
    audit.record(s, "logout", voter_id)
    s.commit()


def activation_link(voter_id: int, generation: int) -> str:
    """The activation link of ``generation`` (single use, latest only)."""
    return links.url(ACTIVATION_PATH, links.make(tokens.ACTIVATION, voter_id, generation))


def voter_for_activation(s: Session, token: str) -> Voter | None:
    """The voter of a genuine, unexpired, unused activation token, else ``None``."""
    claim = links.read(tokens.ACTIVATION, token, runtime.setting("ACTIVATION_LINK_MAX_AGE"))
    if claim is None:
        return None
    voter = s.get(Voter, claim.voter_id)
    if voter is None or voter.activation_generation != claim.generation or register.is_deactivated(voter):
        return None
    return voter


def activate(s: Session, voter: Voter, generation: int, password: str, question_id: str, answer: str) -> bool:
    """Set password and question défi once: a compare-and-swap on the generation, audited and committed."""
    result = s.execute(
        update(Voter)
        .where(Voter.id == voter.id, Voter.activation_generation == generation)
        .values(password_hash=bcrypt_hash(password, _rounds()), question_id=question_id,
                answer_hash=bcrypt_hash(normalise_answer(answer), _rounds()),
                activation_generation=Voter.activation_generation + 1,
                session_epoch=Voter.session_epoch + 1)
        .execution_options(synchronize_session=False))
    if changed_rows(result) != 1:
        s.rollback()
        return False
    audit.record(s, "activation_ok", voter.id)
    s.commit()
    return True
