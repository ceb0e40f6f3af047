"""Signed, timed tokens for the links Réassort sends (SEC-13 to SEC-15).

Each token is an itsdangerous ``URLSafeTimedSerializer`` signature, with its own
salt per purpose, over the voter id and a generation stored on the voter.  The
generation changes when the link is used or a newer one is requested, so a link
works once and only the latest works, without storing tokens (Django's idea).
The caller gives the keys (the current one last: it signs, all verify) and the
time, so that tests inject their clock; ``reassort.procedures.links`` does it
for the app.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

ACTIVATION = "reassort.activation"
REISSUE = "reassort.reissue-link"
PASSWORD_RESET = "reassort.password-reset"  # noqa: S105  (a salt's name, not a secret)


#: Generations are positive 31-bit integers (the column is a 32-bit signed integer).
GENERATION_MAX = 2**31 - 1


@dataclass(frozen=True)
class LinkClaim:
    voter_id: int
    generation: int


@dataclass(frozen=True)
class Inspection:
    """What a token says once its signature is checked: ``claim`` is ``None`` when it is not genuine.

    ``expired`` tells a genuine but too old token: its voter is known (the audit trail
    records it, SPEC §2) although the token is refused.
    """

    claim: LinkClaim | None
    expired: bool = False


def fresh_generation(current: int | None = None) -> int:
    """A random generation in ``1 … 2**31 - 1``, never ``current``.

    Every voter starts at one (never 0) and every change draws a new one: a link
    cannot be forged for a generation nobody can guess, even with a leaked key, and a
    link sent but not recorded never comes back to life (SEC-46).
    """
    while True:
        generation = fresh_generations(1)[0]
        if generation != current:
            return generation


def fresh_generations(n: int) -> list[int]:
    """``n`` random generations at once (one call to the system's generator: bulk imports)."""
    raw = os.urandom(4 * n)
    return [(int.from_bytes(raw[i:i + 4], "big") & GENERATION_MAX) or 1 for i in range(0, 4 * n, 4)]


def _serializer(keys: list[str], salt: str, now: float) -> URLSafeTimedSerializer:
    return _serializer_at(tuple(keys), salt, int(now))


@functools.lru_cache(maxsize=16)
def _serializer_at(keys: tuple[str, ...], salt: str, moment: int) -> URLSafeTimedSerializer:
    # One per key set, purpose and second: a mass mailing signs hundreds of links a second.

    class _SignerAt(TimestampSigner):
        # Signing stamps, and verifying measures the age from, the caller's time.
        def get_timestamp(self) -> int:
            return moment

    return URLSafeTimedSerializer(list(keys), salt=salt, signer=_SignerAt)


def make(keys: list[str], purpose: str, voter_id: int, generation: int, now: float) -> str:
    return _serializer(keys, purpose, now).dumps([voter_id, generation])


def read(keys: list[str], purpose: str, token: str, max_age: int, now: float) -> LinkClaim | None:
    """The claim of a genuine, unexpired token, else ``None`` (whatever is wrong)."""
    found = inspect(keys, purpose, token, max_age, now)
    return None if found.expired else found.claim


def inspect(keys: list[str], purpose: str, token: str, max_age: int, now: float) -> Inspection:
    """Check ``token``: genuine and fresh, genuine but expired, or not genuine (no claim)."""
    serializer = _serializer(keys, purpose, now)
    try:
        return Inspection(_claim(serializer.loads(token, max_age=max_age)))
    except SignatureExpired as exc:
        # The signature is genuine (itsdangerous checks it before the age): the payload is ours.
        try:
            return Inspection(_claim(serializer.load_payload(bytes(exc.payload or b""))), expired=True)
        except (BadData, TypeError, ValueError):
            return Inspection(None)
    except (BadData, TypeError, ValueError):
        return Inspection(None)


#: Voter ids are database integers (64-bit at most): anything larger is no voter of ours.
VOTER_ID_MAX = 2**63 - 1


def _claim(payload) -> LinkClaim:
    """The claim of a genuine payload; ``ValueError`` when its numbers cannot be ours.

    A payload signed with our key is still checked: a larger number would reach the
    database and fail there (an overflow) instead of being the generic bad-link page.
    """
    voter_id, generation = payload
    claim = LinkClaim(int(voter_id), int(generation))
    if not (0 < claim.voter_id <= VOTER_ID_MAX and 0 <= claim.generation <= GENERATION_MAX):
        raise ValueError("numéros hors bornes")
    return claim
