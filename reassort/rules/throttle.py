"""The question défi's throttle (SPEC §2, SEC-08): a temporary lock that grows, never a permanent one.

After ``CHALLENGE_MAX_FAILURES`` wrong answers the challenge path closes for
``CHALLENGE_LOCK_SECONDS``; each further lock in a row (no right answer in
between) lasts twice the one before, capped at 24 hours.  Pure arithmetic on
epoch seconds given by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass

#: No lock lasts longer than a day, however many came before.
LOCK_CAP_SECONDS = 86400


def lock_seconds(first: int, level: int) -> int:
    """Length of the lock that follows ``level`` locks in a row (0: the first one)."""
    return min(LOCK_CAP_SECONDS, first * 2 ** min(max(level, 0), 20))


@dataclass(frozen=True)
class ChallengeStatus:
    """What the challenge page tells the voter: attempts left, or until when it is closed."""

    attempts_left: int
    #: Epoch seconds at which the lock ends; ``None`` when the path is open.
    locked_until: int | None


def challenge_status(failures: int, locked_until: int, maximum: int, now: int) -> ChallengeStatus:
    """The status of a voter with ``failures`` wrong answers counted and a lock until ``locked_until``."""
    if locked_until > now:
        return ChallengeStatus(0, locked_until)
    return ChallengeStatus(max(0, maximum - failures), None)
