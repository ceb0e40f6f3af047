"""Striking voters off the register, and putting them back (``voters deactivate``, a re-import).

A deactivated voter can neither log in, nor open the voting space, nor get a
réassort: the same generic refusals as for a wrong password, a wrong code or a
bad link (``accounts.authenticate``, ``votegate.try_code``,
``recovery.voter_for_link``, ``accounts.voter_for_activation``), each refusal
audited; and every session and link they hold ends at once (their epochs and
generations move on).  Nothing is deleted: the voter's row and the audit trail
stay, and ``reactivate`` undoes a mistake (the voter then needs a new link).
"""

from __future__ import annotations

from typing import Iterable, Sequence, cast

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import audit
from reassort.storage.models import Voter

VOTERS = cast(Table, Voter.__table__)
#: Ids per statement: below SQLite's limit on parameters.
BATCH = 10_000


def is_deactivated(voter: Voter | None) -> bool:
    return voter is not None and voter.deactivated_at is not None


def ids_of(db: Session | Connection, identifiants: Iterable[str]) -> dict[str, int]:
    """``identifiant → id`` of those that exist."""
    wanted = list(dict.fromkeys(identifiants))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), BATCH):
        rows = db.execute(select(VOTERS.c.identifiant, VOTERS.c.id)
                          .where(VOTERS.c.identifiant.in_(wanted[start:start + BATCH])))
        found.update((identifiant, voter_id) for identifiant, voter_id in rows)
    return found


def deactivate(db: Session | Connection, voter_ids: Sequence[int], detail: str) -> list[int]:
    """Deactivate the active voters among ``voter_ids``; audited one event each; the caller commits.

    Returns the ids actually deactivated (those already deactivated are left as they were).
    """
    done: list[int] = []
    now = runtime.now_int()
    for start in range(0, len(voter_ids), BATCH):
        part = list(voter_ids[start:start + BATCH])
        result = db.execute(
            update(VOTERS).where(VOTERS.c.id.in_(part), VOTERS.c.deactivated_at.is_(None))
            .values(deactivated_at=now, session_epoch=VOTERS.c.session_epoch + 1,
                    activation_generation=VOTERS.c.activation_generation + 1,
                    link_generation=VOTERS.c.link_generation + 1)
            .returning(VOTERS.c.id))
        done.extend(result.scalars())
    audit.record_many(db, "voter_deactivated", done, detail)
    return done


def reactivate(db: Session | Connection, voter_ids: Sequence[int], detail: str) -> list[int]:
    """Put deactivated voters among ``voter_ids`` back; audited; the caller commits."""
    done: list[int] = []
    for start in range(0, len(voter_ids), BATCH):
        part = list(voter_ids[start:start + BATCH])
        result = db.execute(update(VOTERS).where(VOTERS.c.id.in_(part), VOTERS.c.deactivated_at.is_not(None))
                            .values(deactivated_at=None).returning(VOTERS.c.id))
        done.extend(result.scalars())
    audit.record_many(db, "voter_reactivated", done, detail)
    return done
