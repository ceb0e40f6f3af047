"""Sending a link to a voter: reserve, record, send within a deadline, give back (SEC-41, issue 15).

The one path every link sent from a request takes — the réassort link (question défi
and FranceConnect), and the forgotten-password and activation re-request links:

1. the caller has *reserved* its places (``quotas``: the voter's links this hour, the
   channel's global cap) and passes how to give each back;
2. if the channel's provider is being skipped (``breaker``: repeated failures lately,
   shared by every worker through the rate-limit storage), nothing is recorded nor
   sent, the places are given back, and the caller offers another way at once;
3. the link is *recorded as the current one* (``record``: a compare-and-swap on the
   voter's generation, committed) **before** it leaves, so that a link delivered
   always works — even if the worker dies a moment later;
4. the message is handed to the provider within its total deadline (``SMTP_TIMEOUT``,
   ``SMS_HTTP_TIMEOUT``), with at most ``DELIVERY_IN_FLIGHT`` sends per provider in
   flight in this process;
5. on a failure where nothing can have left, the record is undone (the previous link
   is current again) and the places are given back; when the deadline struck after
   the whole message had gone (``maybe_delivered``) everything is kept: if it arrives,
   it works.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from reassort.adapters import messaging
from reassort.procedures import breaker
from reassort.storage.database import changed_rows

log = logging.getLogger("reassort")

SENT = "sent"
FAILED = "failed"            # refused or down: nothing left, everything given back
UNCERTAIN = "uncertain"      # the deadline struck after the message had gone: kept, it may arrive
UNAVAILABLE = "unavailable"  # provider skipped or busy: nothing tried, everything given back
CONFLICT = "conflict"        # the voter's generation changed under us: nothing sent

GiveBack = Callable[[], None]
#: Records the link as current (committed); returns how to undo that, or ``None`` when it could not.
Record = Callable[[Session], "GiveBack | None"]


@dataclass(frozen=True)
class Outcome:
    status: str

    @property
    def sent(self) -> bool:
        return self.status == SENT


def channel_open(channel: str) -> bool:
    """The channel's provider is not being skipped right now (cheap: one read of the shared storage)."""
    return not breaker.is_open(channel)


def send_recorded(s: Session, message: messaging.Message, record: Record,
                  give_back: tuple[GiveBack, ...] = ()) -> Outcome:
    """Record, send within the deadline, undo and give back on a failure; see the module's steps."""
    channel = message.channel

    def give_all() -> None:
        for undo in give_back:
            undo()

    if breaker.is_open(channel):
        give_all()
        return Outcome(UNAVAILABLE)
    try:
        undo_record = record(s)
    except SQLAlchemyError:
        s.rollback()
        with contextlib.suppress(SQLAlchemyError):
            give_all()
        raise
    if undo_record is None:
        give_all()
        return Outcome(CONFLICT)
    try:
        messaging.send(message)
    except messaging.ProviderBusy:
        undo_record()
        give_all()
        return Outcome(UNAVAILABLE)
    except messaging.DeliveryError as exc:
        breaker.failed(channel)
        log.warning("envoi impossible (canal %s) : %s", channel, exc,
                    extra={"event": "delivery_failed", "channel": channel,
                           "maybe_delivered": exc.maybe_delivered})
        if exc.maybe_delivered:
            return Outcome(UNCERTAIN)
        undo_record()
        give_all()
        return Outcome(FAILED)
    breaker.succeeded(channel)
    return Outcome(SENT)


def generation_swap(column, row_id: int, new: int) -> Record:
    """A ``record`` step: ``column`` (a voter's link generation) becomes ``new``, by compare-and-swap.

    The value it replaces is read afresh (concurrent requests of one voter each record
    theirs: the last one is current, as « latest link only » says); undone the same way
    (``new`` back to that value) unless a later request moved it on meanwhile.
    """
    table = column.class_

    def swap(s: Session, frm: int, to: int) -> bool:
        done = s.execute(update(table).where(table.id == row_id, column == frm).values({column.key: to})
                         .execution_options(synchronize_session=False))
        s.commit()
        return changed_rows(done) == 1

    def record(s: Session) -> GiveBack | None:
        for _ in range(5):
            current = s.scalar(select(column).where(table.id == row_id))
            s.commit()
            if current is None:
                return None
            if swap(s, current, new):
                return _undo(swap, s, new, current)
        return None

    return record


def _undo(swap: Callable[[Session, int, int], bool], s: Session, new: int, old: int) -> GiveBack:
    def undo() -> None:
        swap(s, new, old)

    return undo
