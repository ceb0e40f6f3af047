"""The audit trail (SEC-37): time, event, voter id and a keyed hash of the IP.

Never a secret, a code, a token, a NUMEN/NIR, a phone number or an e-mail address:
``detail`` only takes short words from the code (a channel, a reason).
"""

from __future__ import annotations

import csv
from typing import IO, Iterable, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.storage.models import AuditEvent

EVENTS = {
    "login_ok", "login_failed", "logout", "throttled",
    "activation_ok", "activation_link_invalid", "activation_sent",
    "code_ok", "code_failed", "code_outside_window",
    "link_requested", "link_send_failed", "challenge_failed", "challenge_locked",
    "link_opened", "link_invalid", "code_regenerated", "regeneration_conflict",
    "reassort_closed", "franceconnect_match", "franceconnect_mismatch",
    "franceconnect_error", "franceconnect_cancel", "codes_issued", "voters_imported",
    "purge", "voter_deactivated", "voter_reactivated",
}


def record(session: Session, event: str, voter_id: int | None = None, detail: str | None = None) -> None:
    """Add one event to ``session`` (committed with the caller's transaction)."""
    if event not in EVENTS:  # a typo in the code, not an input: never stored under a wrong name
        raise ValueError(f"événement d'audit inconnu : {event!r}")
    session.add(AuditEvent(at=runtime.utcnow(), event=event, voter_id=voter_id,
                           ip_hash=runtime.client_hash(), detail=detail))


def record_many(db: Session | Connection, event: str, voter_ids: Iterable[int | None],
                detail: str | None = None) -> None:
    """One event per voter in ``voter_ids`` (``None``: no voter), in one statement; the caller commits.

    For bulk operations and for a bare ``Connection`` (the import).
    """
    if event not in EVENTS:
        raise ValueError(f"événement d'audit inconnu : {event!r}")
    at, ip_hash = runtime.utcnow(), runtime.client_hash()
    rows = [{"at": at, "event": event, "voter_id": voter_id, "ip_hash": ip_hash, "detail": detail}
            for voter_id in voter_ids]
    if rows:
        db.execute(insert(cast(Table, AuditEvent.__table__)), rows)


def record_now(session: Session, event: str, voter_id: int | None = None, detail: str | None = None) -> None:
    """Record and commit at once (after the caller rolled its own work back)."""
    record(session, event, voter_id, detail)
    session.commit()


def export_rows(session: Session) -> Iterable[list[str]]:
    yield ["date_utc", "evenement", "votant_id", "ip_hachee", "detail"]
    for ev in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(5000):
        yield [ev.at.isoformat(timespec="seconds"), ev.event,
               "" if ev.voter_id is None else str(ev.voter_id), ev.ip_hash or "", ev.detail or ""]


def export_csv(session: Session, out: IO[str]) -> int:
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    rows = 0
    for row in export_rows(session):
        writer.writerow(row)
        rows += 1
    return rows - 1  # the events, without the header


def counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(AuditEvent.event, func.count()).group_by(AuditEvent.event))
    return dict(sorted((event, n) for event, n in rows))
