"""Keyed digests and bcrypt, the two ways Réassort stores a secret.

High-entropy or imported identifiers (vote code, NUMEN, NIR prefix) get an
HMAC-SHA-256 keyed with ``HASH_PEPPER``, which lives outside the database: a
stolen database alone cannot be brute-forced, and a million voters import in
seconds.  Secrets people choose (password, challenge answer) get bcrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata

import bcrypt


def digest(pepper: str, purpose: str, value: str) -> str:
    """HMAC-SHA-256 of ``value`` under ``pepper``, separated by ``purpose``."""
    mac = hmac.new(pepper.encode(), purpose.encode() + b"\x00" + value.encode(), hashlib.sha256)
    return mac.hexdigest()


def digest_equal(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)


def _prehash(secret: str) -> bytes:
    # bcrypt reads at most 72 bytes (and bcrypt >= 5 raises beyond): a SHA-256
    # pre-hash, base64-encoded (44 bytes, no NUL), keeps every character significant.
    return base64.b64encode(hashlib.sha256(secret.encode()).digest())


def bcrypt_hash(secret: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(secret), bcrypt.gensalt(rounds)).decode()


def bcrypt_check(secret: str, hashed: str | None, rounds: int) -> bool:
    """Check ``secret``; with no hash, spend the same time on a dummy one (SEC-02)."""
    if not hashed:
        bcrypt.checkpw(_prehash(secret), _dummy_hash(rounds))
        return False
    return bcrypt.checkpw(_prehash(secret), hashed.encode())


_DUMMIES: dict[int, bytes] = {}


def _dummy_hash(rounds: int) -> bytes:
    if rounds not in _DUMMIES:
        _DUMMIES[rounds] = bcrypt.hashpw(b"dummy", bcrypt.gensalt(rounds))
    return _DUMMIES[rounds]


def normalise_answer(text: str) -> str:
    """Challenge answers compare without case, accents or extra spaces (SEC-06)."""
    decomposed = unicodedata.normalize("NFKD", text)
    no_accents = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(no_accents.casefold().split())
