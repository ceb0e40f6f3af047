"""Seeded audit trails for the report's tests (``test_audit_report.py``, ``e2e/test_audit_report.py``).

``seed_funnel`` writes a few voters' journeys whose counts the tests know by heart;
``seed_poll`` adds a poll's worth of events with a daily rhythm (more at lunch and in
the evening), deterministic, for a report that looks like a real one.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from reassort.storage.models import AuditEvent

#: The poll of the seeded trails, in UTC (09:00 and 17:00 in Paris, winter time).
OPENS = dt.datetime(2026, 12, 1, 8, 0)
CLOSES = dt.datetime(2026, 12, 3, 16, 0)
WINDOW = {"ELECTION_OPENS_AT": "2026-12-01T09:00:00+01:00", "ELECTION_CLOSES_AT": "2026-12-03T17:00:00+01:00"}
#: Values that must never reach the report: voter ids and IP hashes of the seeded rows.
VOTER_BASE = 987_600
IP_HASH = "f3a9c0d1e2b4a7c6"


def _row(at: dt.datetime, event: str, voter: int | None = None, detail: str | None = None) -> dict:
    return {"at": at, "event": event, "voter_id": None if voter is None else VOTER_BASE + voter,
            "ip_hash": IP_HASH, "detail": detail}


def funnel_rows(start: dt.datetime = OPENS + dt.timedelta(hours=2)) -> list[dict]:
    """Ten voters: 1–3 fail the question défi, 4–7 get an SMS link, 8–10 a link through FranceConnect;
    4–9 open it, 4–8 regenerate, 4–6 then type a code (7 typed one before regenerating only)."""
    t = start
    rows = []
    for v in (1, 2, 3):
        rows.append(_row(t, "challenge_failed", v))
    for v in (4, 5, 6, 7):
        rows.append(_row(t, "link_requested", v, "sms"))
    for v in (8, 9, 10):
        rows += [_row(t, "franceconnect_match", v), _row(t, "link_requested", v, "franceconnect:email")]
    later = t + dt.timedelta(minutes=5)
    rows.append(_row(t - dt.timedelta(minutes=30), "code_ok", 7))
    for v in (4, 5, 6, 7, 8, 9):
        rows.append(_row(later, "link_opened", v))
    for v in (4, 5, 6, 7, 8):
        rows.append(_row(later, "code_regenerated", v))
    for v in (4, 5, 6):
        rows.append(_row(later + dt.timedelta(minutes=3), "code_ok", v))
    rows.append(_row(t, "franceconnect_mismatch", 11, "nom,date"))
    rows.append(_row(t, "franceconnect_mismatch", 12, "date"))
    rows.append(_row(t, "franceconnect_error", 13, "id_token"))
    rows.append(_row(t, "link_send_failed", 14, "email"))
    rows.append(_row(t, "challenge_locked", 15, "started"))
    return rows


def seed_funnel(session) -> None:
    session.execute(insert(AuditEvent), funnel_rows())
    session.commit()


def _rhythm(hour_of_day: int) -> int:
    """Activity by hour of the day in Paris (UTC+1): a peak at lunch, another in the evening."""
    local = (hour_of_day + 1) % 24
    return {7: 2, 8: 5, 9: 8, 10: 9, 11: 10, 12: 16, 13: 14, 14: 8, 15: 7, 16: 8, 17: 11, 18: 15, 19: 18,
            20: 20, 21: 16, 22: 8, 23: 4}.get(local, 1)


def seed_poll(session, scale: int = 3) -> None:
    """A deterministic poll between OPENS and CLOSES: logins, codes, réassorts, failures, locks."""
    rows = []
    t = OPENS
    voter = 1000
    n = 0
    while t < CLOSES:
        beat = _rhythm(t.hour) * scale
        for i in range(beat):
            n += 1
            voter += 1
            at = t + dt.timedelta(seconds=(i * 3607) % 3600)
            rows.append(_row(at, "login_ok", voter))
            rows.append(_row(at, "code_ok", voter))
            if n % 4 == 0:
                rows.append(_row(at, "login_failed", voter, "captcha" if n % 8 == 0 else None))
            if n % 6 == 0:
                rows.append(_row(at, "code_failed", voter))
            if n % 5 == 0:
                channel = "sms" if n % 3 else "email"
                detail = channel if n % 7 else "franceconnect:email"
                if detail.startswith("franceconnect"):
                    rows.append(_row(at, "franceconnect_match", voter))
                rows.append(_row(at, "link_requested", voter, detail))
                if n % 10 == 0:
                    rows.append(_row(at, "link_opened", voter))
                    rows.append(_row(at, "code_regenerated", voter))
                    rows.append(_row(at + dt.timedelta(minutes=2), "code_ok", voter))
            if n % 23 == 0:
                rows.append(_row(at, "link_send_failed", voter, "sms" if n % 2 else "email"))
            if n % 29 == 0:
                rows.append(_row(at, "challenge_locked", voter, "started"))
            if n % 31 == 0:
                rows.append(_row(at, "franceconnect_mismatch", voter, "lieu" if n % 2 else "prenom"))
            if n % 37 == 0:
                rows.append(_row(at, "challenge_failed", voter))
        t += dt.timedelta(hours=1)
    session.execute(insert(AuditEvent), rows)
    session.commit()
