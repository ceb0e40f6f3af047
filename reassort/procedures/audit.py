"""The audit trail (SEC-37): time, event, voter id and a keyed hash of the IP.

Never a secret, a code, a token, a NUMEN/NIR, a phone number or an e-mail address:
``detail`` only takes short words from the code (a channel, a reason).  The events of
a réassort's link (``link_requested``, ``link_send_failed``, ``throttled``) say which
path the voter took: the bare word for the question défi (``email``), the word after
``franceconnect:`` for FranceConnect (``franceconnect:email``), see ``path_detail``.
The help desk's events carry the operator's name and reason (``cli/helpdesk.py``).

Every event recorded is also counted in the metrics once its transaction commits
(``audit_metrics``).
"""

from __future__ import annotations

import csv
from typing import IO, Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import audit_metrics
from reassort.storage.models import AuditEvent

EVENTS = {
    "login_ok", "login_failed", "logout", "throttled",
    "activation_ok", "activation_link_invalid", "activation_sent",
    "code_ok", "code_failed", "code_outside_window",
    "link_requested", "link_send_failed", "challenge_failed", "challenge_locked",
    "link_opened", "link_invalid", "code_regenerated", "regeneration_conflict",
    "reassort_closed", "franceconnect_match", "franceconnect_mismatch",
    "franceconnect_error", "franceconnect_cancel", "codes_issued", "voters_imported",
    "purge", "helpdesk_show", "helpdesk_unlock", "helpdesk_resend_activation",
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
