"""What production refuses in a setting's value (SEC-46): pure checks behind ``config.unsafe_settings``.

Keys must be long and of some variety (a repeated character or word is no key);
schemes are compared as the libraries read them, case-insensitively after
trimming (``MEMORY://``, `` memory://`` and ``memory:`` are all the in-memory
limiter); loopback is told by address, not by name only.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from urllib.parse import urlsplit

KEY_MIN_LENGTH = 32
#: Distinct characters a key must hold: a random key of 32 characters holds about 20.
KEY_MIN_DISTINCT = 8
#: No character may fill more than this share of a key (in a random hex key of 32, one fills about a sixteenth).
KEY_MAX_SHARE = 1 / 3
REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+sentinel", "redis+cluster", "redis+unix"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


def weak_key(key: object) -> str | None:
    """Why ``key`` is refused as a signing key or pepper (French), or ``None`` when it is acceptable."""
    text = str(key or "")
    if len(text) < KEY_MIN_LENGTH:
        return f"absente ou trop courte ({KEY_MIN_LENGTH} caractères au moins)"
    most = Counter(text).most_common(1)[0][1]
    if len(set(text)) < KEY_MIN_DISTINCT or most > KEY_MAX_SHARE * len(text):
        return (f"trop peu variée ({KEY_MIN_DISTINCT} caractères différents au moins, aucun sur plus "
                f"d'un tiers de la clé) : tirez-la au hasard")
    return None


def scheme(url: object) -> str:
    """The scheme of ``url`` as a library reads it: trimmed, lower-cased ("" when there is none)."""
    return urlsplit(str(url or "").strip()).scheme.lower()


def is_redis(url: object) -> bool:
    return scheme(url) in REDIS_SCHEMES


def is_https(url: object) -> bool:
    """An ``https://`` URL with a host (``https:foo`` is not one)."""
    parts = urlsplit(str(url or "").strip())
    return parts.scheme.lower() == "https" and bool(parts.hostname)


def is_loopback(host: object) -> bool:
    """``host`` is this machine: a loopback address or a loopback name."""
    name = str(host or "").strip().strip("[]").rstrip(".").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
