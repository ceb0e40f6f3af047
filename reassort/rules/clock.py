"""Time as the rules see it: epoch seconds given by the caller, and a settable clock for tests.

Nothing here reads the system clock on its own: procedures take the time from
``reassort.runtime.now()``, which uses the app's injected ``CLOCK`` when there is
one, so tests never sleep.
"""

from __future__ import annotations

import datetime as dt


def utc_naive(epoch: float) -> dt.datetime:
    """Naive UTC datetime of ``epoch``, as the database stores it."""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).replace(tzinfo=None)


class FakeClock:
    """A settable clock for tests: ``clock.advance(601)``."""

    def __init__(self, start: float = 1_800_000_000.0):
        self.t = float(start)

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
