"""The CAPTCHA of this browser: the challenge id kept in the signed session cookie.

One challenge per browser session at a time; a new one replaces the old.  The
rules of a challenge (answer, expiry, single use) are ``reassort.procedures.captchas``.
"""

from __future__ import annotations

from flask import session

from reassort import runtime
from reassort.procedures import captchas
from reassort.web.extensions import db

SESSION_KEY = "captcha"


def enabled() -> bool:
    return runtime.setting("CAPTCHA_ENABLED")


def new_challenge() -> str | None:
    """Issue a challenge for this session (replacing any previous one); ``None`` when off."""
    if not enabled():
        return None
    challenge_id = captchas.issue(db.session, replacing=session.get(SESSION_KEY))
    session[SESSION_KEY] = challenge_id
    return challenge_id


def current_challenge() -> str | None:
    return session.get(SESSION_KEY)


def is_live(challenge_id: str) -> bool:
    """This session's challenge, not yet answered nor expired."""
    return challenge_id == current_challenge() and captchas.is_live(db.session, challenge_id)


def check(answer: str | None) -> bool:
    """Consume this session's challenge and tell whether ``answer`` solves it (always true when off)."""
    if not enabled():
        return True
    return captchas.consume(db.session, session.pop(SESSION_KEY, None), answer)
