"""Keyed digests and bcrypt, the two ways Réassort stores a secret.

High-entropy or imported identifiers (vote code, NUMEN, NIR prefix) get an
HMAC-SHA-256 keyed with ``HASH_PEPPER``, which lives outside the database: a
stolen database alone cannot be brute-forced, and a million voters import in
seconds.  Secrets people choose (password, challenge answer) get bcrypt, over a
pre-hash keyed with the pepper too (SEC-47): a hash leaked from another service
for the same password cannot be tested against ours ("shucking"), and our hashes
alone cannot be attacked without the pepper.

Two stored formats, told apart by their first characters:

- ``k1$`` + a bcrypt hash (``$2b$…``): bcrypt over base64(HMAC-SHA-256(pepper, secret));
- a bare bcrypt hash (``$2b$…``, written before the review): bcrypt over
  base64(SHA-256(secret)).  Still verified; ``needs_upgrade`` tells the caller to
  store the keyed form at the next success.
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


class KeyedDigest:
    """``digest(pepper, purpose, ·)`` with the key schedule done once, for bulk work (the import).

    HMAC-SHA-256 (RFC 2104) written out with hashlib: the inner hash, already fed
    with the padded key and the purpose, and the outer one are copied per value —
    twice as fast as ``hmac.HMAC.copy`` per value.  ``test_keyed_digest_is_digest``
    holds it to the same result as ``digest``.
    """

    _BLOCK = 64  # SHA-256's block size

    def __init__(self, pepper: str, purpose: str):
        key = pepper.encode()
        if len(key) > self._BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(self._BLOCK, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + purpose.encode() + b"\x00")
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __call__(self, value: str) -> str:
        inner = self._inner.copy()
        inner.update(value.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def digest_equal(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)


#: Marks a bcrypt hash over the keyed pre-hash.
KEYED = "k1$"


def _prehash(secret: str, pepper: str | None) -> bytes:
    # bcrypt reads at most 72 bytes (and bcrypt >= 5 raises beyond): a 32-byte pre-hash,
    # base64-encoded (44 bytes, no NUL), keeps every character significant.
    if pepper is None:  # the format written before the review, only ever verified
        return base64.b64encode(hashlib.sha256(secret.encode()).digest())
    mac = hmac.new(pepper.encode(), b"bcrypt-prehash\x00" + secret.encode(), hashlib.sha256)
    return base64.b64encode(mac.digest())


def bcrypt_hash(secret: str, rounds: int, pepper: str) -> str:
    """The stored form of ``secret``: ``k1$`` + bcrypt of its pre-hash keyed with ``pepper``."""
    return KEYED + bcrypt.hashpw(_prehash(secret, pepper), bcrypt.gensalt(rounds)).decode()


def bcrypt_check(secret: str, hashed: str | None, rounds: int, pepper: str) -> bool:
    """Check ``secret`` against either stored form; with no hash, spend the same time on a dummy (SEC-02)."""
    if not hashed:
        bcrypt.checkpw(_prehash(secret, pepper), _dummy_hash(rounds))
        return False
    if hashed.startswith(KEYED):
        return bcrypt.checkpw(_prehash(secret, pepper), hashed[len(KEYED):].encode())
    return bcrypt.checkpw(_prehash(secret, None), hashed.encode())


def needs_upgrade(hashed: str | None) -> bool:
    """A hash of the older, unkeyed format: to be replaced at the next successful check."""
    return bool(hashed) and not str(hashed).startswith(KEYED)


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
