"""Counters kept in the rate-limit storage (Redis in production), reserved before the work.

``reserve`` increments first and compares after, in one atomic step of the
storage (the ``limits`` API's ``hit``): of N simultaneous requests exactly the
allowed number get a reservation, whatever the interleaving (SEC-41).  A
reservation is given back only when our own delivery failed.

When Redis fails under a reservation, the count moves to this worker's memory
like the limiter's own (``runtime.rate_storage_failed``), or the error goes up
(a 503 page) when that fallback is off.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter

from reassort import runtime


@dataclass(frozen=True)
class Reservation:
    item: RateLimitItem
    keys: tuple[str, ...]
    #: Where it was counted (Redis, or this worker's memory during an outage); ``None``: limits off.
    storage: Storage | None = None

    def give_back(self) -> None:
        """Undo the reservation (the send it was for did not happen), where it was counted."""
        if self.storage is not None:
            try:
                self.storage.incr(self.item.key_for(*self.keys), self.item.get_expiry(), amount=-1)
            except StorageError:
                pass  # Redis left meanwhile: the count was lost with it


def reserve(limit: str, *keys: str) -> Reservation | None:
    """Count one against ``limit`` (e.g. ``"5000 per hour"``) under ``keys``; ``None`` when over it."""
    item = parse(limit)
    full_keys = (str(runtime.setting("RATELIMIT_KEY_PREFIX") or ""), *keys)
    storage = runtime.rate_storage()
    if storage is None:  # rate limits switched off (tests, load tests)
        return Reservation(item, full_keys)
    try:
        allowed = FixedWindowRateLimiter(storage).hit(item, *full_keys)
    except StorageError:
        storage = runtime.rate_storage_failed()
        if storage is None:
            raise
        allowed = FixedWindowRateLimiter(storage).hit(item, *full_keys)
    return Reservation(item, full_keys, storage) if allowed else None
