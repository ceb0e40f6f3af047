"""The links Réassort sends: signed with the app's keys at the app's time, built from ``PUBLIC_URL``.

:func:`presented` is the first half of every link's check (réassort, activation,
forgotten password): the voter a genuine token names.  Each purpose then says whether
the link is still the current one, with its own state.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import audit, register
from reassort.rules import tokens
from reassort.rules.tokens import Inspection, LinkClaim
from reassort.storage.models import Voter


def make(purpose: str, voter_id: int, generation: int) -> str:
    return tokens.make(runtime.signing_keys(), purpose, voter_id, generation, runtime.now())


def read(purpose: str, token: str, max_age: int) -> LinkClaim | None:
    """The claim of a genuine token at most ``max_age`` seconds old, else ``None``."""
    return tokens.read(runtime.signing_keys(), purpose, token, max_age, runtime.now())


def inspect(purpose: str, token: str, max_age: int) -> Inspection:
    """Genuine and fresh, genuine but expired (its voter known), or not genuine."""
    return tokens.inspect(runtime.signing_keys(), purpose, token, max_age, runtime.now())


def url(path: str, token: str) -> str:
    """``PUBLIC_URL`` + ``path`` + ``token``: never the Host header (SEC-16)."""
    return str(runtime.setting("PUBLIC_URL")).rstrip("/") + path + token


@dataclass(frozen=True)
class Presented:
    """A genuine token's voter (on the register) and generation, and whether it is past its max age."""

    voter: Voter
    generation: int
    expired: bool


def presented(s: Session, purpose: str, token: str | None, max_age: int, event: str) -> Presented | None:
    """The voter on the register that a genuine token names, else ``None`` with the refusal audited.

    A missing or forged token is only counted under ``event`` (``audit.tally``: nothing
    from outside writes a row); a genuine one naming a voter struck off the register is
    recorded with its voter (``deactivated``).  Generation 0 was every voter's start
    before generations began at random: never a link's.
    """
    if not token:
        audit.tally(s, event, "missing")
        return None
    found = inspect(purpose, token, max_age)
    claim = found.claim
    voter = s.get(Voter, claim.voter_id) if claim is not None and claim.generation > 0 else None
    if voter is None or claim is None:
        audit.tally(s, event, "invalid")
        return None
    if register.is_deactivated(voter):
        audit.record_now(s, event, voter.id, "deactivated")
        return None
    return Presented(voter, claim.generation, found.expired)
