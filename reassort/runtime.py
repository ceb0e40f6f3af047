"""The one accessor through which procedures reach the running app: settings, clock, client.

Procedures (``reassort.procedures``) never touch ``request``: they read a
setting with ``setting("NAME")`` (already typed and checked by ``config.py``), the
time with ``now()`` (the injected ``CLOCK`` in tests), and the keyed hash of the
client's address with ``client_hash()``, which the web glue computes once per
request (``reassort.web.client_address``).  Outside a request (CLI) there is no
client and ``client_hash()`` is ``None``.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from flask import current_app, g, has_app_context

from reassort.rules.clock import utc_naive


def setting(name: str) -> Any:
    """The value of setting ``name``; a ``KeyError`` for a name that does not exist (a typo)."""
    return current_app.config[name]


def now(config=None) -> float:
    """Current epoch seconds, from the app's injected clock when there is one.

    ``config``: the app's, where there is no app context (the outermost WSGI layer).
    """
    if config is None and has_app_context():
        config = current_app.config
    clock = config.get("CLOCK") if config is not None else None
    return float(clock()) if clock is not None else time.time()


def now_int() -> int:
    return int(now())


def utcnow() -> dt.datetime:
    """Naive UTC datetime of ``now()``, as the database stores it."""
    return utc_naive(now())


def client_hash() -> str | None:
    """Keyed hash of the client's address for this request (set by the web glue), else ``None``."""
    return g.get("client_hash") if has_app_context() else None


def signing_keys() -> list[str]:
    """Keys that verify signatures, the current one last (itsdangerous signs with the last)."""
    return list(setting("SECRET_KEY_FALLBACKS") or []) + [setting("SECRET_KEY")]


def pepper() -> str:
    """Key of the keyed digests (vote code, NUMEN, NIR prefix, addresses)."""
    return setting("HASH_PEPPER")


def note_outgoing() -> None:
    """A notice was queued in this request: the web glue may send it once the response has gone."""
    if has_app_context():
        g.outgoing_queued = True


def rate_storage():
    """The ``limits`` storage the rate limiter counts in now, or ``None`` when limits are off.

    Redis; this worker's memory during a Redis outage (``reassort.web.rate_fallback``).
    """
    if not setting("RATELIMIT_ENABLED"):
        return None
    return current_app.extensions["reassort.rate_storage"]()


def rate_storage_failed():
    """Redis failed under our own count: the storage to count in instead, or ``None`` (then refuse)."""
    return current_app.extensions["reassort.rate_storage_failed"]()
