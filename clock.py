"""The one clock of the app, injectable for tests (``create_app({"CLOCK": f})``).

``CLOCK`` is a callable returning epoch seconds (float); every expiry, throttle
and timestamp reads it through ``now()`` so tests never sleep.
"""

from __future__ import annotations

import datetime as dt
import time

from flask import current_app, has_app_context


def now() -> float:
    """Current epoch seconds, from the app's injected clock when there is one."""
    if has_app_context():
        clock = current_app.config.get("CLOCK")
        if clock is not None:
            return float(clock())
    return time.time()


def now_int() -> int:
    return int(now())


def utcnow() -> dt.datetime:
    """Naive UTC datetime of ``now()``, as the database stores it."""
    return dt.datetime.fromtimestamp(now(), dt.timezone.utc).replace(tzinfo=None)


class FakeClock:
    """A settable clock for tests: ``clock.advance(601)``."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.t = float(start)

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
