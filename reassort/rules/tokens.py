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

from dataclasses import dataclass

from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

ACTIVATION = "reassort.activation"
REISSUE = "reassort.reissue-link"


@dataclass(frozen=True)
class LinkClaim:
    voter_id: int
    generation: int


def _serializer(keys: list[str], salt: str, now: float) -> URLSafeTimedSerializer:
    moment = int(now)

    class _SignerAt(TimestampSigner):
        # Signing stamps, and verifying measures the age from, the caller's time.
        def get_timestamp(self) -> int:
            return moment

    return URLSafeTimedSerializer(keys, salt=salt, signer=_SignerAt)


def make(keys: list[str], purpose: str, voter_id: int, generation: int, now: float) -> str:
    return _serializer(keys, purpose, now).dumps([voter_id, generation])


def read(keys: list[str], purpose: str, token: str, max_age: int, now: float) -> LinkClaim | None:
    """The claim of a genuine, unexpired token, else ``None`` (whatever is wrong)."""
    try:
        voter_id, generation = _serializer(keys, purpose, now).loads(token, max_age=max_age)
        return LinkClaim(int(voter_id), int(generation))
    except (BadData, TypeError, ValueError):
        return None
