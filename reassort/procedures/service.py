"""The operator's switch: ``service suspend --message …`` / ``service resume`` (issue 15).

One row of ``service_state``, shared by every worker and VM (the database, not Redis:
Redis keeps nothing on disk here, and a suspension must survive its restart).  Each
process reads it at most every ``SUSPENSION_CHECK_SECONDS`` (a cache of its own), so
that a suspension costs no query per request and reaches every worker within that
delay.  A database that cannot be read leaves the cached answer (its own 503 page
will say the rest).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import audit
from reassort.storage.models import ServiceState

MESSAGE_MAX = 500


@dataclass(frozen=True)
class State:
    suspended: bool = False
    message: str = ""
    changed_at: int = 0


_cache: dict = {}
_lock = threading.Lock()


def _row(s: Session) -> ServiceState:
    row = s.get(ServiceState, 1)
    if row is None:
        row = ServiceState(id=1, suspended=False, message=None, changed_at=0)
        s.add(row)
    return row


def suspend(s: Session, message: str, operator: str) -> None:
    """Show ``message`` instead of the forms on every worker, until ``resume``; audited, committed."""
    text = " ".join(message.split())
    if not text or len(text) > MESSAGE_MAX:
        raise ValueError(f"message vide ou trop long ({MESSAGE_MAX} caractères au plus)")
    row = _row(s)
    row.suspended, row.message, row.changed_at = True, text, runtime.now_int()
    audit.record(s, "service_suspended", None, f"operator={operator}")
    s.commit()
    forget()


def resume(s: Session, operator: str) -> None:
    """Serve the forms again; audited, committed."""
    row = _row(s)
    row.suspended, row.changed_at = False, runtime.now_int()
    audit.record(s, "service_resumed", None, f"operator={operator}")
    s.commit()
    forget()


def read(s: Session) -> State:
    """The switch as stored now (no cache)."""
    row = s.scalar(select(ServiceState).where(ServiceState.id == 1))
    if row is None:
        return State()
    return State(bool(row.suspended), row.message or "", int(row.changed_at or 0))


def current(s_factory) -> State:
    """The switch as this process last read it, re-read when older than ``SUSPENSION_CHECK_SECONDS``."""
    now = runtime.now()
    with _lock:
        cached = _cache.get("state")
        if cached is not None and now - _cache["at"] < runtime.setting("SUSPENSION_CHECK_SECONDS"):
            return cached
    session = s_factory()
    try:
        state = read(session)
    except SQLAlchemyError:
        session.rollback()
        state = cached or State()
    finally:
        session.close()
    with _lock:
        _cache.update(state=state, at=now)
    return state


def forget() -> None:
    """Drop this process's cached answer (the next request reads the row)."""
    with _lock:
        _cache.clear()
