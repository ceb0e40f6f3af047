"""Signed, timed tokens for the links Réassort sends (SEC-13 to SEC-15).

Each token is an itsdangerous ``URLSafeTimedSerializer`` signature, with its own
salt per purpose, over the voter id and a generation counter stored on the voter.
The counter changes when the link is used or a newer one is requested, so a link
works once and only the latest works, without storing tokens (Django's idea).
Age is read from the app's injected clock; ``SECRET_KEY_FALLBACKS`` still verify.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

import clock

ACTIVATION = "reassort.activation"
REISSUE = "reassort.reissue-link"


class _ClockSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return clock.now_int()


@dataclass(frozen=True)
class LinkClaim:
    voter_id: int
    generation: int


def _serializer(salt: str) -> URLSafeTimedSerializer:
    keys = list(current_app.config.get("SECRET_KEY_FALLBACKS") or []) + [current_app.config["SECRET_KEY"]]
    # itsdangerous signs with the last key and verifies with every key.
    return URLSafeTimedSerializer(keys, salt=salt, signer=_ClockSigner)


def make(purpose: str, voter_id: int, generation: int) -> str:
    return _serializer(purpose).dumps([voter_id, generation])


def read(purpose: str, token: str, max_age: int) -> LinkClaim | None:
    """The claim of a genuine, unexpired token, else ``None`` (whatever is wrong)."""
    try:
        voter_id, generation = _serializer(purpose).loads(token, max_age=max_age)
        return LinkClaim(int(voter_id), int(generation))
    except (BadData, TypeError, ValueError):
        return None
