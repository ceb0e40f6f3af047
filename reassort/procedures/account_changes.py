"""« Mon compte »: change the password, or the question défi and its answer (SPEC §1b).

Each change first checks the current password — one bcrypt check, after the
per-voter limit was reserved by the view's limiter (SEC-41) — then writes with a
compare-and-swap on the hash it checked, so that two changes at once never both
apply.  A new password ends every other session of the voter (the view keeps the
one that made it) and kills any forgotten-password link.  Every change is audited and
told to the address of record (:func:`notify`, after the answer).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.orm import Session

from reassort.procedures import accounts, audit, notices
from reassort.rules import tokens
from reassort.rules.hashing import normalise_answer
from reassort.storage.models import Voter

log = logging.getLogger("reassort")

#: The notices sent to the address of record (``templates/messages/<name>.txt``).


def change_password(s: Session, voter: Voter, current: str, new: str) -> int | None:
    """Replace the password if ``current`` is right: the voter's new session epoch, else ``None``."""
    epoch = _change(s, voter, current, "password", lambda: {
        "password_hash": accounts.hash_secret(new),
        "password_generation": tokens.fresh_generation(voter.password_generation),
        "session_epoch": Voter.session_epoch + 1})
    if epoch is not None:
        _done(s, voter.id, "password_changed")
    return epoch


def change_challenge(s: Session, voter: Voter, current: str, question_id: str, answer: str) -> bool:
    """Replace the question défi and its answer if ``current`` is the right password.

    The challenge's failures and suspension stay as they are: a new answer is no way
    around a lock.
    """
    done = _change(s, voter, current, "challenge", lambda: {
        "question_id": question_id, "answer_hash": accounts.hash_secret(normalise_answer(answer))})
    if done is not None:
        _done(s, voter.id, "challenge_changed")
    return done is not None


def _change(s: Session, voter: Voter, current: str, what: str, values: Callable[[], dict]) -> int | None:
    """Write ``values()`` if ``current`` is the right password: the session epoch after it, else ``None``.

    One bcrypt check, then an UPDATE guarded by the hash that was checked: a change made
    meanwhile by another request means that what was typed is no longer current.  The new
    values (a bcrypt hash among them) are made only once the check has passed: a wrong
    password costs one bcrypt, not two.  A refusal is audited (``account_change_refused``,
    with what was to change).
    """
    checked = voter.password_hash
    epoch = None
    if accounts.check_secret(current, checked):
        epoch = s.execute(update(Voter).where(Voter.id == voter.id, Voter.password_hash == checked)
                          .values(**values()).returning(Voter.session_epoch)
                          .execution_options(synchronize_session=False)).scalar()
    if epoch is None:
        s.rollback()
        audit.record_now(s, "account_change_refused", voter.id, what)
        return None
    return int(epoch)


def _done(s: Session, voter_id: int, event: str) -> None:
    """Audit the change and queue its notice to the address of record, with the change itself."""
    audit.record(s, event, voter_id)
    notices.enqueue(s, event, voter_id)
    s.commit()
