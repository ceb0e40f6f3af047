"""Every counter that limits a voter, reserved before the work (SEC-41): one mechanism, two stores.

A request first *reserves* its attempt or its send, in one atomic step of the
store, and only then does the slow or costly work (the bcrypt check, the SMS):
of N simultaneous requests exactly the allowed number get a reservation,
whatever the interleaving.  A reservation is given back only when our own
delivery failed.

- In the rate-limit storage (Redis in production), with the ``limits`` API's
  ``hit`` (increment first, compare after): the global send caps, and any
  "N per voter / per address / per client per window" a procedure needs
  (``per_voter``, ``per_address``, ``per_client``) — forgotten password and
  activation re-requests reuse these.
- In a row of the database, with one conditional ``UPDATE … SET n = n + 1 WHERE
  id = :id AND n < :max`` (the window restarting in the same statement): the
  counters the voter's pages show, kept with the voter (``RowCounter``:
  links this hour, wrong answers to the question défi).

When Redis fails under a reservation, the count moves to this worker's memory
like the limiter's own (``runtime.rate_storage_failed``), or the error goes up
(a 503 page) when that fallback is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import ColumnElement, and_, case, or_, select, update
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.rules.hashing import digest


class OverLimit(Exception):
    """A reservation refused where the answer is the French 429 page (the web glue renders it).

    ``what`` names the limit (a short word of the code), counted in the audit tallies.
    """

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


# -- in the rate-limit storage -------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    item: RateLimitItem
    keys: tuple[str, ...]
    #: Where it was counted (Redis, or this worker's memory during an outage); ``None``: limits off.
    storage: Storage | None = None

    def give_back(self) -> None:
        """Undo the reservation (the send it was for did not happen), where it was counted."""
        if self.storage is not None:
            try:
                self.storage.incr(self.item.key_for(*self.keys), self.item.get_expiry(), amount=-1)
            except StorageError:
                pass  # Redis left meanwhile: the count was lost with it


def reserve(limit: str, *keys: str) -> Reservation | None:
    """Count one against ``limit`` (e.g. ``"5000 per hour"``) under ``keys``; ``None`` when over it.

    The keys carry ``RATELIMIT_KEY_PREFIX`` first, like the limiter's own.
    """
    item = parse(limit)
    full_keys = (str(runtime.setting("RATELIMIT_KEY_PREFIX") or ""), *keys)
    storage = runtime.rate_storage()
    if storage is None:  # rate limits switched off (tests, load tests)
        return Reservation(item, full_keys)
    try:
        allowed = FixedWindowRateLimiter(storage).hit(item, *full_keys)
    except StorageError:
        storage = runtime.rate_storage_failed()
        if storage is None:
            raise
        allowed = FixedWindowRateLimiter(storage).hit(item, *full_keys)
    if not allowed:
        # Refused: take our own increment back, so that a later give-back frees a real place.
        Reservation(item, full_keys, storage).give_back()
        return None
    return Reservation(item, full_keys, storage)


def per_voter(limit: str, purpose: str, voter_id: int) -> Reservation | None:
    """One ``purpose`` for this voter against ``limit`` (e.g. ``"3 per hour"``)."""
    return reserve(limit, purpose, "voter", str(voter_id))


def per_address(limit: str, purpose: str, address: str) -> Reservation | None:
    """One ``purpose`` for this typed address (normalised by the caller), kept as a keyed hash only."""
    return reserve(limit, purpose, "address", digest(runtime.pepper(), "quota-address", address)[:24])


def per_client(limit: str, purpose: str) -> Reservation | None:
    """One ``purpose`` for this request's client (its address, IPv6 per /64: SEC-43)."""
    return reserve(limit, purpose, "client", runtime.client_hash() or "none")


# -- in a row of the database ------------------------------------------------------------


@dataclass(frozen=True)
class RowCounter:
    """A counter kept in a row: ``count`` column, and the ``started`` column of its window.

    Without ``started`` the counter has no window: something else resets it (a lock,
    a right answer).
    """

    count: Any
    started: Any = None
    window: int = 0

    @property
    def table(self):
        return self.count.class_


@dataclass(frozen=True)
class Taken:
    """A place reserved in a row counter: its number (1 = the first) and the values returned with it."""

    counter: RowCounter
    row_id: int
    number: int
    window_started: int
    returned: dict

    def give_back(self, s: Session) -> None:
        """Free the place again (our delivery failed), unless its window has ended meanwhile; committed."""
        c = self.counter
        where = [c.table.id == self.row_id, c.count > 0]
        if c.started is not None:
            where.append(c.started == self.window_started)
        s.execute(update(c.table).where(*where).values({c.count.key: c.count - 1})
                  .execution_options(synchronize_session=False))
        s.commit()


def take(s: Session, counter: RowCounter, row_id: int, maximum: int, now: int,
         also: tuple[ColumnElement[bool], ...] = (), returning: tuple = ()) -> Taken | None:
    """Reserve one place of ``counter`` in row ``row_id`` if fewer than ``maximum`` are taken; committed.

    One conditional UPDATE: the database's row lock makes concurrent reservations
    queue, and each sees the count the one before left.  ``also`` adds conditions
    (e.g. "not locked"); ``returning`` names more columns to read back in the same
    statement.  ``None`` when refused (full, or ``also`` false).
    """
    c = counter
    values: dict[str, Any] = {c.count.key: c.count + 1}
    room: ColumnElement[bool] = c.count < maximum
    if c.started is not None:
        # A window that has ended restarts now, in the same statement (never read-modify-write).
        ended = c.started <= now - c.window
        values = {c.count.key: case((ended, 1), else_=c.count + 1), c.started.key: case((ended, now), else_=c.started)}
        room = or_(ended, room)
    read_back = (c.count, *returning) if c.started is None else (c.count, *returning, c.started)
    statement = (update(c.table).where(and_(c.table.id == row_id, room, *also)).values(values)
                 .returning(*read_back).execution_options(synchronize_session=False))
    row = s.execute(statement).first()
    s.commit()
    if row is None:
        return None
    extra = {col.key: row[i + 1] for i, col in enumerate(returning)}
    started = int(row[-1]) if c.started is not None else 0
    return Taken(counter, row_id, int(row[0]), started, extra)


def window_ends(s: Session, counter: RowCounter, row_id: int) -> int:
    """When the current window of ``counter`` ends (epoch seconds), for a "retry after" message."""
    started = s.scalar(select(counter.started).where(counter.table.id == row_id)) or 0
    return int(started) + counter.window
