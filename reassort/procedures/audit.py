"""The audit trail (SEC-37): time, event, voter id and a keyed hash of the IP.

Never a secret, a code, a token, a NUMEN/NIR, a phone number or an e-mail address:
``detail`` only takes short words from the code (a channel, a reason), or what an
operator's command was told (``codes reissue``, the help desk: the operator's name, no
address, and the reason).  The events of a réassort's link (``link_requested``,
``link_send_failed``, ``throttled``) say which path the voter took: the bare word for the
question défi (``email``), the word after ``franceconnect:`` for FranceConnect
(``franceconnect:email``), see ``path_detail``.

Requests that carry nothing (no token, a forged one) and throttled floods are
counted per hour (``tally``), not written one row each: nobody can fill the trail
from outside (SPEC §2, SEC-44).  ``counts`` adds both.  Every event recorded is also
counted in the metrics once its transaction commits (``audit_metrics``).
"""

from __future__ import annotations

import csv
from typing import IO, Iterable, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import audit_metrics
from reassort.storage.models import AuditEvent, AuditTally

EVENTS = {
    "login_ok", "login_failed", "logout", "throttled",
    "activation_ok", "activation_link_invalid", "activation_sent",
    "code_ok", "code_failed", "code_outside_window",
    "link_requested", "link_send_failed", "challenge_failed", "challenge_locked",
    "link_opened", "link_invalid", "code_regenerated", "regeneration_conflict",
    "reassort_closed", "franceconnect_match", "franceconnect_mismatch",
    "franceconnect_error", "franceconnect_cancel", "codes_issued", "code_reissued", "voters_imported",
    "purge", "helpdesk_show", "helpdesk_unlock", "helpdesk_resend_activation", "voter_deactivated",
    "voter_reactivated", "service_suspended", "service_resumed",
    # The voter's account around the journey (SPEC §1b): forgotten password, activation
    # mail asked again, « Mon compte ».
    "password_reset_requested", "activation_requested", "password_reset_sent", "account_link_send_failed",
    "password_reset_link_opened", "password_reset_link_invalid", "password_reset_ok",
    "password_changed", "challenge_changed", "account_change_refused",
}

#: The two paths of a réassort (SPEC §1 steps 4 and 5).
DEFI = "defi"
FRANCECONNECT = "franceconnect"


def path_detail(path: str, word: str) -> str:
    """The detail of a réassort event: ``word`` for the question défi, ``franceconnect:word`` otherwise."""
    return word if path == DEFI else f"{path}:{word}"


def split_path(detail: str | None) -> tuple[str, str]:
    """``(path, word)`` of a detail written by ``path_detail`` (any other detail is the défi's word)."""
    head, sep, word = (detail or "").partition(":")
    return (FRANCECONNECT, word) if sep and head == FRANCECONNECT else (DEFI, detail or "")


def record(session: Session, event: str, voter_id: int | None = None, detail: str | None = None) -> None:
    """Add one event to ``session`` (committed with the caller's transaction)."""
    if event not in EVENTS:  # a typo in the code, not an input: never stored under a wrong name
        raise ValueError(f"événement d'audit inconnu : {event!r}")
    session.add(AuditEvent(at=runtime.utcnow(), event=event, voter_id=voter_id,
                           ip_hash=runtime.client_hash(), detail=detail))
    audit_metrics.note(session, event, detail)


def record_many(db: Session | Connection, event: str, voter_ids: Iterable[int | None],
                detail: str | None = None) -> None:
    """One event per voter in ``voter_ids`` (``None``: no voter), in one statement; the caller commits.

    For bulk operations and for a bare ``Connection`` (the import, whose one summary
    event is then not counted in the metrics: the CLI is no worker that exports them).
    """
    if event not in EVENTS:
        raise ValueError(f"événement d'audit inconnu : {event!r}")
    at, ip_hash = runtime.utcnow(), runtime.client_hash()
    rows = [{"at": at, "event": event, "voter_id": voter_id, "ip_hash": ip_hash, "detail": detail}
            for voter_id in voter_ids]
    if rows:
        db.execute(insert(cast(Table, AuditEvent.__table__)), rows)
        if isinstance(db, Session):  # counted at commit, as ``record`` does (a bare Connection has no hook)
            for _ in rows:
                audit_metrics.note(db, event, detail)


def record_now(session: Session, event: str, voter_id: int | None = None, detail: str | None = None) -> None:
    """Record and commit at once (after the caller rolled its own work back)."""
    record(session, event, voter_id, detail)
    session.commit()


def tally(session: Session, event: str, detail: str | None = None) -> None:
    """Count one ``event`` (with ``detail``) in the current hour's tally, committed at once.

    One upsert on one row per event, detail and hour: a flood adds to a number, never rows.
    """
    if event not in EVENTS:
        raise ValueError(f"événement d'audit inconnu : {event!r}")
    hour = runtime.utcnow().replace(minute=0, second=0, microsecond=0)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(AuditTally).values(hour=hour, event=event, detail=(detail or "")[:60], count=1)
    session.execute(statement.on_conflict_do_update(index_elements=["hour", "event", "detail"],
                                                    set_={"count": AuditTally.count + 1}))
    session.commit()


def throttled(session: Session, voter_id: int | None, what: str) -> None:
    """A refused (throttled) attempt: audited, but never one row per request of a flood (SEC-37, SEC-44).

    A logged-in voter's first refusal on an endpoint in a quarter of an hour is a row with the
    voter's id; the rest of the flood, and every anonymous refusal, add to the hour's tally.
    """
    from reassort.procedures import quotas

    if voter_id is not None and quotas.reserve("1 per 15 minutes", "throttled-row", str(voter_id), what):
        record_now(session, "throttled", voter_id, what)
    else:
        tally(session, "throttled", what)


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
    """Events per name: the rows of the trail plus what was only counted (``tally``)."""
    found: dict[str, int] = {}
    for event, n in session.execute(select(AuditEvent.event, func.count()).group_by(AuditEvent.event)):
        found[event] = found.get(event, 0) + int(n)
    for event, n in session.execute(select(AuditTally.event, func.sum(AuditTally.count)).group_by(AuditTally.event)):
        found[event] = found.get(event, 0) + int(n or 0)
    return dict(sorted(found.items()))


def tallies(session: Session) -> dict[tuple[str, str], int]:
    """What was counted rather than written, per event and detail (all hours)."""
    rows = session.execute(select(AuditTally.event, AuditTally.detail, func.sum(AuditTally.count))
                           .group_by(AuditTally.event, AuditTally.detail))
    return {(event, detail): int(n or 0) for event, detail, n in rows}
