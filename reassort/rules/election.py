"""The election window: when codes open the voting space, when réassort stops (SEC-30)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

NOT_YET = "not_yet"
OPEN = "open"
CLOSED = "closed"


@dataclass(frozen=True)
class Window:
    """Opening and closing instants (aware datetimes); ``None`` = no bound."""

    opens: dt.datetime | None = None
    closes: dt.datetime | None = None

    def state(self, now: float) -> str:
        if self.closes is not None and now >= self.closes.timestamp():
            return CLOSED
        if self.opens is not None and now < self.opens.timestamp():
            return NOT_YET
        return OPEN

    def is_open(self, now: float) -> bool:
        """Codes open the voting space only inside the window."""
        return self.state(now) == OPEN

    def has_closed(self, now: float) -> bool:
        """Réassort is refused once the poll has closed (SEC-30)."""
        return self.state(now) == CLOSED
