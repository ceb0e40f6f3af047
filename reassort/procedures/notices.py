"""The notices queue: messages to the address of record that leave after the response, durably.

The notices — « code modifié » (SEC-24), « mot de passe modifié », « question défi
modifiée » (SEC-49) — are written here.  The « code modifié » notice used to be sent inside the regeneration's
request: a mail server taking 40 s then held the worker past its timeout, and the
new code, committed, was never shown.  Now the regeneration only *adds a row* to
``outgoing_messages`` in its own transaction (``enqueue``): the code and its notice
exist together or not at all, and nothing slow stands between the decision and the
reveal page.  The row is sent later by ``drain``:

- in production by ``flask --app app messages work`` (``deploy/reassort-messages.service``),
  one or more per VM;
- in development (``NOTICES_DRAIN=auto``), by the web process itself right after the
  response has gone (``reassort.web.outgoing``): the demo needs no second process.

Each sender *claims* due rows with a lease (``claimed_until``), on PostgreSQL by
``SELECT … FOR UPDATE SKIP LOCKED`` inside the claiming UPDATE (senders never wait on
one another), on SQLite under its single writer lock.  A sent row is deleted; a
failed one is due again after a growing delay; a sender killed mid-send leaves its
lease to expire and another sends the row: at least once (a notice may, rarely,
arrive twice; it says nothing secret).  Only addresses of record are queued: a
destination a voter typed is never written anywhere (SEC-20).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.adapters import messaging
from reassort.storage.models import OutgoingMessage, Voter

log = logging.getLogger("reassort.notices")

#: Each notice: the message template it renders and what that template is told besides the voter.
TEMPLATES: dict[str, tuple[str, dict]] = {
    "code_changed": ("code_changed", {}),
    "password_changed": ("password_changed", {"how": "account"}),
    "password_reset_done": ("password_changed", {"how": "reset"}),
    "challenge_changed": ("challenge_changed", {}),
}
#: How long a claimed row is a sender's before another may take it (s): above a send's deadline.
LEASE_SECONDS = 120
#: Attempts before a notice is given up (about two days of retries at the longest delay).
MAX_ATTEMPTS = 60
#: Rows a sender claims at a time.
BATCH = 20


def enqueue(s: Session, template: str, voter_id: int) -> None:
    """Queue ``template`` for the voter's address of record, in the caller's transaction."""
    if template not in TEMPLATES:  # a programming error
        raise ValueError(f"avis inconnu : {template!r}")
    now = runtime.now_int()
    s.add(OutgoingMessage(created_at=now, due_at=now, claimed_until=0, attempts=0, template=template,
                          voter_id=voter_id))
    runtime.note_outgoing()


def retry_delay(attempts: int) -> int:
    """Seconds before a failed notice is tried again: 30 s, doubling, at most an hour."""
    return min(3600, 30 * 2 ** max(0, attempts - 1))


def claim(s: Session, limit: int = BATCH) -> list[OutgoingMessage]:
    """Take up to ``limit`` due rows for this sender (a lease), committed; other senders skip them."""
    now = runtime.now_int()
    due = (select(OutgoingMessage.id)
           .where(OutgoingMessage.due_at <= now, OutgoingMessage.claimed_until <= now)
           .order_by(OutgoingMessage.id).limit(limit)
           .with_for_update(skip_locked=True))  # nothing on SQLite: its writer lock serialises claims
    ids = list(s.scalars(
        update(OutgoingMessage)
        .where(OutgoingMessage.id.in_(due.scalar_subquery()), OutgoingMessage.claimed_until <= now)
        .values(claimed_until=now + LEASE_SECONDS, attempts=OutgoingMessage.attempts + 1)
        .returning(OutgoingMessage.id)
        .execution_options(synchronize_session=False)))
    s.commit()
    if not ids:
        return []
    return list(s.scalars(select(OutgoingMessage).where(OutgoingMessage.id.in_(ids))
                          .order_by(OutgoingMessage.id).execution_options(populate_existing=True)))


def send_one(s: Session, row: OutgoingMessage) -> bool:
    """Send one claimed row; delete it once handed over, else make it due again later.  Committed."""
    voter = s.get(Voter, row.voter_id)
    if voter is None:  # purged meanwhile: nobody to tell
        s.execute(delete(OutgoingMessage).where(OutgoingMessage.id == row.id))
        s.commit()
        return False
    try:
        template, context = TEMPLATES[row.template]
        messaging.send_email(messaging.render_email(template, voter.email, voter=voter, **context))
    except messaging.DeliveryError as exc:
        now = runtime.now_int()
        if row.attempts >= MAX_ATTEMPTS:
            log.error("avis abandonné après %d essais : %s", row.attempts, exc,
                      extra={"event": "notice_abandoned", "template": row.template})
            s.execute(delete(OutgoingMessage).where(OutgoingMessage.id == row.id))
        else:
            log.warning("avis non envoyé (essai %d) : %s", row.attempts, exc,
                        extra={"event": "notice_retry", "template": row.template})
            s.execute(update(OutgoingMessage).where(OutgoingMessage.id == row.id)
                      .values(due_at=now + retry_delay(row.attempts), claimed_until=0)
                      .execution_options(synchronize_session=False))
        s.commit()
        return False
    s.execute(delete(OutgoingMessage).where(OutgoingMessage.id == row.id))
    s.commit()
    return True


def release(s: Session, rows: list[OutgoingMessage]) -> None:
    """Give claimed rows back unsent (the sender is stopping): due again at once, the attempt not counted."""
    if rows:
        s.execute(update(OutgoingMessage).where(OutgoingMessage.id.in_([row.id for row in rows]))
                  .values(claimed_until=0, attempts=OutgoingMessage.attempts - 1)
                  .execution_options(synchronize_session=False))
        s.commit()


def drain(s: Session, limit: int | None = None, stop: Callable[[], bool] = lambda: False) -> tuple[int, int]:
    """Send every due notice (at most ``limit``): ``(sent, failed)``.

    ``stop()`` is asked before each notice: once it says so, the rows claimed and not
    sent are given back (``release``) and the drain ends — a sender asked to stop
    (SIGTERM) finishes the notice in hand, not the whole queue.
    """
    sent = failed = 0
    while (limit is None or sent + failed < limit) and not stop():
        rows = claim(s, BATCH if limit is None else min(BATCH, limit - sent - failed))
        if not rows:
            break
        for n, row in enumerate(rows):
            if stop():
                release(s, rows[n:])
                break
            if send_one(s, row):
                sent += 1
            else:
                failed += 1
    return sent, failed


def waiting(s: Session) -> int:
    """Notices in the queue (due or not), for ``messages work`` and the operators."""
    return int(s.scalar(select(func.count()).select_from(OutgoingMessage)) or 0)
