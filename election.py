"""The election window (``ELECTION_OPENS_AT`` / ``ELECTION_CLOSES_AT``)."""

from __future__ import annotations

import datetime as dt

from flask import current_app

import clock


def _instant(value) -> float | None:
    if not value:
        return None
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"date sans fuseau horaire : {value!r} (ex. 2026-12-01T09:00:00+01:00)")
    return moment.timestamp()


def window() -> tuple[float | None, float | None]:
    cfg = current_app.config
    return _instant(cfg["ELECTION_OPENS_AT"]), _instant(cfg["ELECTION_CLOSES_AT"])


def is_open() -> bool:
    """Codes open the voting space only inside the window."""
    opens, closes = window()
    t = clock.now()
    return (opens is None or t >= opens) and (closes is None or t < closes)


def has_closed() -> bool:
    """Réassort is refused once the poll has closed (SEC-30)."""
    _, closes = window()
    return closes is not None and clock.now() >= closes
