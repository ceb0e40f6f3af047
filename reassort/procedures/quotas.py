"""Counters kept in the rate-limit storage (Redis in production), reserved before the work.

``reserve`` increments first and compares after, in one atomic step of the
storage (the ``limits`` API's ``hit``): of N simultaneous requests exactly the
allowed number get a reservation, whatever the interleaving (SEC-41).  A
reservation is given back only when our own delivery failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter

from reassort import runtime


@dataclass(frozen=True)
class Reservation:
    item: RateLimitItem
    keys: tuple[str, ...]

    def give_back(self) -> None:
        """Undo the reservation (the send it was for did not happen)."""
        storage = runtime.rate_storage()
        if storage is not None:
            storage.incr(self.item.key_for(*self.keys), self.item.get_expiry(), amount=-1)


def reserve(limit: str, *keys: str) -> Reservation | None:
    """Count one against ``limit`` (e.g. ``"5000 per hour"``) under ``keys``; ``None`` when over it."""
    item = parse(limit)
    full_keys = (str(runtime.setting("RATELIMIT_KEY_PREFIX") or ""), *keys)
    storage = runtime.rate_storage()
    if storage is None:  # rate limits switched off (tests, load tests)
        return Reservation(item, full_keys)
    if not FixedWindowRateLimiter(storage).hit(item, *full_keys):
        return None
    return Reservation(item, full_keys)
