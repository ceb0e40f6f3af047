"""The links Réassort sends: signed with the app's keys at the app's time, built from ``PUBLIC_URL``."""

from __future__ import annotations

from reassort import runtime
from reassort.rules import tokens
from reassort.rules.tokens import Inspection, LinkClaim


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
