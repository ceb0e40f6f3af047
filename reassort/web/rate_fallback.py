"""Redis outage: the limits fall back to each worker's memory, logged and counted.

Redis holds every rate-limit counter (per address, per account, per voter, the
global send caps).  Refusing every form while it is away would make it a single
point of failure for every login and vote; so, with ``RATELIMIT_MEMORY_FALLBACK``
on (the default), Flask-Limiter's own in-memory fallback counts the same limits
in the worker's memory until Redis answers again (it retries with a growing
delay, up to about 30 s), and ``rate_storage()`` — the reservations of
``reassort.procedures.quotas`` — follows it.  During the outage each worker
counts alone: a limit is at most (workers × VMs) times looser, for the minutes
Redis is away.  The question défi's failure counter and the links-per-hour
counter live in the database and hold as ever.

Each worker logs one JSON warning when it switches to memory and one line when
Redis is back, with the outage's length and how many requests it counted in
memory; ``/readyz`` says ``degraded`` meanwhile.  With the setting off, a Redis
outage is a 503 page on every limited form, as before.
"""

from __future__ import annotations

import logging

from flask import Flask
from limits.storage import Storage

from reassort import runtime
from reassort.web.extensions import limiter

log = logging.getLogger("reassort.ratelimit")

#: This worker's outage, if any: when it began (``runtime.now()``) and the requests counted in memory.
_outage: dict = {}


def init_app(app: Flask) -> None:
    # The limiter is one object for every app of the process (tests build many): its state
    # belongs to the app being built, whatever an earlier one left.
    limiter._in_memory_fallback_enabled = bool(app.config["RATELIMIT_MEMORY_FALLBACK"])
    limiter._storage_dead = False
    _outage.clear()
    app.extensions["reassort.rate_storage"] = current_storage
    app.extensions["reassort.rate_storage_failed"] = storage_failed
    app.after_request(_note)


def enabled() -> bool:
    return bool(limiter._in_memory_fallback_enabled and getattr(limiter, "_fallback_storage", None) is not None)


def in_fallback() -> bool:
    """Limits are counted in this worker's memory right now (Redis was found away)."""
    return bool(limiter._storage_dead) and enabled()


def current_storage() -> Storage:
    """The storage the limiter counts in now: Redis, or this worker's memory during an outage."""
    return limiter._fallback_storage if in_fallback() else limiter.storage


def storage_failed() -> Storage | None:
    """Redis failed under a reservation: switch this worker to memory; the storage to retry on, or ``None``."""
    if not enabled():
        return None
    limiter._storage_dead = True
    _begin()
    return limiter._fallback_storage


def _begin() -> None:
    if not _outage:
        _outage.update(since=runtime.now(), requests=0)
        log.warning("stockage des limites de débit injoignable : limites comptées dans la mémoire de ce "
                    "processus jusqu'à son retour", extra={"event": "ratelimit_fallback_on"})


def _note(response):
    """After each request: open or close this worker's outage, count the requests served meanwhile."""
    if in_fallback():
        _begin()
        _outage["requests"] += 1
    elif _outage:
        log.warning("stockage des limites de débit rétabli", extra={
            "event": "ratelimit_fallback_off",
            "outage_s": round(runtime.now() - _outage["since"], 1),
            "requests_in_memory": _outage["requests"],
        })
        _outage.clear()
    return response


def outage() -> dict:
    """This worker's current outage (``since``, ``requests``), empty when Redis answers."""
    return dict(_outage)
