"""The CAPTCHA of this browser: the challenge id kept in the signed session cookie.

One challenge per browser session at a time; a new one replaces the old.  The
rules of a challenge (answer, expiry, single use) are ``reassort.procedures.captchas``.
The session also keeps when the challenge was issued, so that an answer typed
too late is told « expiré » on the CAPTCHA field rather than the generic error.
"""

from __future__ import annotations

from flask import request, session

from reassort import runtime
from reassort.procedures import captchas
from reassort.web.extensions import db

SESSION_KEY = "captcha"
ISSUED_KEY = "captcha_at"
#: The « Afficher un autre CAPTCHA » button: its name and value in the form posted back.
REFRESH_FIELD, REFRESH_VALUE = "captcha_action", "nouveau"


def enabled() -> bool:
    return runtime.setting("CAPTCHA_ENABLED")


def new_challenge() -> str | None:
    """Issue a challenge for this session (replacing any previous one); ``None`` when off."""
    if not enabled():
        return None
    challenge_id = captchas.issue(db.session, replacing=session.get(SESSION_KEY))
    session[SESSION_KEY] = challenge_id
    session[ISSUED_KEY] = runtime.now_int()
    return challenge_id


def current_challenge() -> str | None:
    return session.get(SESSION_KEY)


def is_live(challenge_id: str) -> bool:
    """This session's challenge, not yet answered nor expired."""
    return challenge_id == current_challenge() and captchas.is_live(db.session, challenge_id)


def expired() -> bool:
    """This session's challenge is past ``CAPTCHA_MAX_AGE``: its answer will be refused as too late."""
    issued = session.get(ISSUED_KEY)
    if not enabled() or session.get(SESSION_KEY) is None or issued is None:
        return False
    return runtime.now_int() - int(issued) > runtime.setting("CAPTCHA_MAX_AGE")


def refresh_requested() -> bool:
    """The form was posted back by « Afficher un autre CAPTCHA »: show it again, check nothing."""
    return request.method == "POST" and request.form.get(REFRESH_FIELD) == REFRESH_VALUE


def check(answer: str | None) -> bool:
    """Consume this session's challenge and tell whether ``answer`` solves it (always true when off)."""
    if not enabled():
        return True
    session.pop(ISSUED_KEY, None)
    return captchas.consume(db.session, session.pop(SESSION_KEY, None), answer)
