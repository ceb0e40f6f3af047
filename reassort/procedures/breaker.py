"""Skip a provider that keeps failing, for every worker and VM at once (issue 15).

After ``DELIVERY_BREAKER_FAILURES`` failed sends on a channel within
``DELIVERY_BREAKER_WINDOW`` seconds, the channel is *open* (skipped) for
``DELIVERY_BREAKER_SECONDS``: voters are offered the other channel or FranceConnect at
once instead of each waiting for the deadline.  Then one send is let through; if it
fails too the channel is skipped again at once (the trip is remembered ten times as
long), if it succeeds the count starts afresh.

Counted in the rate-limit storage (Redis in production: shared by every worker and
VM; this worker's memory during a Redis outage, like the limits), under
``RATELIMIT_KEY_PREFIX``; in the process's own memory when the limits are off.
Never a reason to refuse: a storage error reads as « closed ».
"""

from __future__ import annotations

import logging

from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage

from reassort import runtime

log = logging.getLogger("reassort")

_local: dict[str, Storage] = {}


def _storage() -> Storage:
    storage = runtime.rate_storage()
    if storage is None:
        if "memory" not in _local:
            _local["memory"] = MemoryStorage()
        storage = _local["memory"]
    return storage


def _key(channel: str, what: str) -> str:
    return f"{runtime.setting('RATELIMIT_KEY_PREFIX') or ''}/breaker/{channel}/{what}"


def is_open(channel: str) -> bool:
    """The channel's provider is being skipped now."""
    try:
        return _storage().get(_key(channel, "open")) > 0
    except StorageError:
        return False


def failed(channel: str) -> None:
    """Count one failed send; open the channel when the failures reach the threshold (or it tripped lately)."""
    seconds = runtime.setting("DELIVERY_BREAKER_SECONDS")
    try:
        storage = _storage()
        count = storage.incr(_key(channel, "failures"), runtime.setting("DELIVERY_BREAKER_WINDOW"))
        if count >= runtime.setting("DELIVERY_BREAKER_FAILURES") or storage.get(_key(channel, "tripped")) > 0:
            if storage.get(_key(channel, "open")) == 0:
                log.warning("fournisseur %s écarté pour %d s après des échecs répétés", channel, seconds,
                            extra={"event": "breaker_open", "channel": channel})
            storage.incr(_key(channel, "open"), seconds)
            storage.incr(_key(channel, "tripped"), seconds * 10)
            storage.clear(_key(channel, "failures"))
    except StorageError:
        pass


def succeeded(channel: str) -> None:
    """A send went through: the channel's count starts afresh."""
    try:
        storage = _storage()
        for what in ("failures", "tripped"):
            if storage.get(_key(channel, what)):
                storage.clear(_key(channel, what))
    except StorageError:
        pass


def reset(channel: str) -> None:
    """Close the channel now (operators, tests)."""
    try:
        storage = _storage()
        for what in ("failures", "tripped", "open"):
            storage.clear(_key(channel, what))
    except StorageError:
        pass
