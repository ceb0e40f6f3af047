"""The mass mailing of activation links (``voters send-activation``): resumable, nothing sent twice.

Each batch of voters is *claimed* before its mails leave, in one UPDATE per batch: the
activation generation moves on (the link about to be sent is the current one) and
``activation_claimed_at`` says « being sent ».  Once the relay has accepted a mail its
voter is *confirmed* (``activation_sent_at``, claim cleared, audited); a mail the relay
refused is *given back* (generation back, claim cleared: the voter's older link, if
any, works again, and the next run sends to them).

A run stopped by Ctrl+C gives back what it had claimed and not sent.  A run killed
outright leaves its in-flight claims (a batch at most): their mails may or may not
have left, so the next run sends them nothing and says how many there are
(``interrupted``); ``--retry-interrupted`` sends to them again, knowingly.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import audit
from reassort.storage.models import Voter

VOTERS: Table = Voter.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Claimed:
    voter: Voter
    generation: int


def _candidates(resend: bool, retry_interrupted: bool):
    # A voter struck off the register (``voters deactivate``) is sent nothing.
    query = select(Voter.id).where(Voter.password_hash.is_(None), Voter.deactivated_at.is_(None))
    if not retry_interrupted:
        query = query.where(Voter.activation_claimed_at.is_(None))
    if not resend:
        query = query.where(Voter.activation_sent_at.is_(None))
    return query


def to_send(s: Session, resend: bool, retry_interrupted: bool = False) -> int:
    """How many voters this run would mail."""
    from sqlalchemy import func

    return int(s.scalar(select(func.count()).select_from(_candidates(resend, retry_interrupted).subquery())) or 0)


def interrupted(s: Session) -> int:
    """Voters whose mail a killed run had claimed without knowing whether it left."""
    from sqlalchemy import func

    return int(s.scalar(select(func.count()).select_from(Voter).where(
        Voter.activation_claimed_at.is_not(None), Voter.password_hash.is_(None))) or 0)


def claim(s: Session, limit: int, after_id: int, resend: bool, retry_interrupted: bool = False) -> list[Claimed]:
    """Claim up to ``limit`` voters with an id above ``after_id``: their next generation, committed."""
    ids = list(s.scalars(_candidates(resend, retry_interrupted).where(Voter.id > after_id)
                         .order_by(Voter.id).limit(limit)))
    s.commit()
    if not ids:
        return []
    guard = [Voter.id.in_(ids), Voter.password_hash.is_(None)]
    if not retry_interrupted:
        guard.append(Voter.activation_claimed_at.is_(None))
    claimed = _take(s, *guard)
    # Ids the UPDATE skipped (activated, or claimed by another run meanwhile) still move the cursor.
    if not claimed:
        return [Claimed(_Skipped(max(ids)), 0)]  # type: ignore[arg-type]
    return claimed


def _take(s: Session, *guard) -> list[Claimed]:
    """Claim the voters ``guard`` selects: their next generation, « being sent »; committed, by id."""
    taken = dict(s.execute(
        update(Voter).where(*guard)
        .values(activation_generation=Voter.activation_generation + 1, activation_claimed_at=runtime.now_int())
        .returning(Voter.id, Voter.activation_generation)
        .execution_options(synchronize_session=False)).all())
    s.commit()
    voters = s.scalars(select(Voter).where(Voter.id.in_(list(taken))).order_by(Voter.id)
                       .execution_options(populate_existing=True)).all()
    return [Claimed(v, int(taken[v.id])) for v in voters]


class _Skipped:
    """A placeholder for a batch whose voters all went elsewhere: only its id moves the cursor."""

    def __init__(self, voter_id: int):
        self.id = voter_id


def is_placeholder(item: Claimed) -> bool:
    return isinstance(item.voter, _Skipped)


def claim_one(s: Session, voter_id: int) -> Claimed | None:
    """Claim one voter not yet activated nor struck off (the help desk's resend), committed; else ``None``.

    A claim by a mass run in flight is overridden: its mail, if it leaves, names an older
    generation and is dead; this one is the only valid link.
    """
    taken = _take(s, Voter.id == voter_id, Voter.password_hash.is_(None), Voter.deactivated_at.is_(None))
    return taken[0] if taken else None


def confirm(s: Session, sent: list[Claimed], audited: bool = True) -> None:
    """The relay accepted these voters' mails: sent, claim cleared, audited; committed.

    ``audited=False``: the mail may have arrived (no answer from the relay); its link is
    kept and the claim cleared, but no ``activation_sent`` is written.
    """
    if not sent:
        return
    # One statement for the batch (an UPDATE per voter made the main thread the bottleneck).
    s.connection().execute(
        update(VOTERS).where(VOTERS.c.id == bindparam("vid"), VOTERS.c.activation_generation == bindparam("gen"))
        .values(activation_sent_at=runtime.now_int(), activation_claimed_at=None),
        [{"vid": item.voter.id, "gen": item.generation} for item in sent])
    if audited:
        audit.record_many(s, "activation_sent", [item.voter.id for item in sent])
    s.commit()


def give_back(s: Session, unsent: list[Claimed]) -> None:
    """Nothing left for these voters: their previous generation is current again, claim cleared; committed."""
    if unsent:
        s.connection().execute(
            update(VOTERS).where(VOTERS.c.id == bindparam("vid"),
                                 VOTERS.c.activation_generation == bindparam("gen"))
            .values(activation_generation=bindparam("previous"), activation_claimed_at=None),
            [{"vid": item.voter.id, "gen": item.generation, "previous": item.generation - 1} for item in unsent])
    s.commit()
