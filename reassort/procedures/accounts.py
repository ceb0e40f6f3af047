"""Accounts: login check and activation (password + question défi).

Activation links are single use and latest only: the token carries the voter's
``activation_generation``, bumped by each mail sent and by the activation itself.
Passwords and answers are stored with ``hash_secret`` (bcrypt over a pre-hash keyed
with the pepper, SEC-47); hashes of the older unkeyed format are replaced at the
next success (``upgrade_hash``).
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import audit, links, quotas, register
from reassort.rules import tokens
from reassort.rules.hashing import bcrypt_check, bcrypt_hash, needs_upgrade, normalise_answer
from reassort.storage.database import changed_rows
from reassort.storage.models import Voter


def _rounds() -> int:
    return runtime.setting("BCRYPT_ROUNDS")


def hash_secret(secret: str) -> str:
    """The stored form of a password or a (normalised) answer: keyed pre-hash, then bcrypt."""
    return bcrypt_hash(secret, _rounds(), runtime.pepper())


def check_secret(secret: str, hashed: str | None) -> bool:
    """``secret`` matches ``hashed`` (either format); a dummy check when there is no hash (SEC-02)."""
    return bcrypt_check(secret, hashed, _rounds(), runtime.pepper())


def upgrade_hash(s: Session, voter_id: int, column, old: str | None, secret: str) -> None:
    """Store ``secret`` in the keyed format if ``old`` is of the unkeyed one (compare-and-swap, committed)."""
    if not needs_upgrade(old):
        return
    s.execute(update(Voter).where(Voter.id == voter_id, column == old).values({column.key: hash_secret(secret)})
              .execution_options(synchronize_session=False))
    s.commit()


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def voter_by_email(s: Session, email: str) -> Voter | None:
    """The voter whose address of record is ``email`` (normalised here), else ``None``."""
    typed = normalise_email(email)
    # No address of record holds a NUL, and PostgreSQL refuses one in a query
    # parameter (DataError, a 500): such an address is simply unknown.
    return None if "\x00" in typed else s.scalar(select(Voter).where(Voter.email == typed))


def voter_id_by_email(s: Session, email: str) -> int | None:
    """The id only (no object built, nor kept in the session): as cheap whether it exists or not."""
    typed = normalise_email(email)
    return None if "\x00" in typed else s.scalar(select(Voter.id).where(Voter.email == typed))


def _check_password(s: Session, email: str, password: str) -> Voter | None:
    """The voter with this address and password, deactivated or not; same work whether or not it exists."""
    voter = voter_by_email(s, email)
    hashed = voter.password_hash if voter else None
    if not check_secret(password, hashed):
        return None
    assert voter is not None  # noqa: S101  (a hash was checked, so there is a voter)
    upgrade_hash(s, voter.id, Voter.password_hash, hashed, password)
    return voter


def authenticate(s: Session, email: str, password: str) -> Voter | None:
    """The active voter with this address and password; same work whether or not it exists.

    A deactivated voter (struck off the register) is refused like a wrong password.
    """
    voter = _check_password(s, email, password)
    return None if register.is_deactivated(voter) else voter


ACTIVATION_PATH = "/activation/"


def log_in_attempt(s: Session, email: str, password: str, captcha_ok: bool) -> Voter | None:
    """The voter when address, password and CAPTCHA are all right; every attempt audited.

    A POST whose CAPTCHA is not solved tests no password, so it does not count against
    the address either: nobody locks a voter out by posting their address (SEC-42).  A
    solved one reserves its place under the normalised address *before* the bcrypt
    check (SEC-41); over ``LOGIN_LIMIT_PER_ACCOUNT`` it raises ``quotas.OverLimit``.
    """
    if not captcha_ok:
        audit.record(s, "login_failed", None, "captcha")
        s.commit()
        return None
    if quotas.per_address(runtime.setting("LOGIN_LIMIT_PER_ACCOUNT"), "login", normalise_email(email)) is None:
        raise quotas.OverLimit("login_per_account")
    voter = _check_password(s, email, password)
    if register.is_deactivated(voter):
        # The same refusal as a wrong password; the trail says why (only the voter knows the password).
        assert voter is not None  # noqa: S101  (is_deactivated says so)
        audit.record(s, "login_failed", voter.id, "deactivated")
        s.commit()
        return None
    if voter is not None:
        audit.record(s, "login_ok", voter.id)
        s.commit()
        return voter
    audit.record(s, "login_failed", None)
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
    """The voter of a genuine, unexpired, unused activation token, else ``None`` (the refusal audited).

    A refused token whose signature is genuine is audited with its voter and why
    (expired, used, superseded); anything else is only counted (``audit.tally``).
    """
    found = links.presented(s, tokens.ACTIVATION, token, runtime.setting("ACTIVATION_LINK_MAX_AGE"),
                            "activation_link_invalid")
    if found is None:
        return None
    voter = found.voter
    if found.expired or voter.activation_generation != found.generation:
        reason = "expired" if found.expired else "used" if voter.password_hash else "superseded"
        audit.record_now(s, "activation_link_invalid", voter.id, reason)
        return None
    return voter


def activate(s: Session, voter: Voter, generation: int, password: str, question_id: str, answer: str) -> bool:
    """Set password and question défi once: a compare-and-swap on the generation, audited and committed."""
    result = s.execute(
        update(Voter)
        .where(Voter.id == voter.id, Voter.activation_generation == generation)
        .values(password_hash=hash_secret(password), question_id=question_id,
                answer_hash=hash_secret(normalise_answer(answer)),
                activation_generation=Voter.activation_generation + 1,
                session_epoch=Voter.session_epoch + 1)
        .execution_options(synchronize_session=False))
    if changed_rows(result) != 1:
        s.rollback()
        return False
    audit.record(s, "activation_ok", voter.id)
    s.commit()
    return True
