"""The CAPTCHA of this browser: the challenge id kept in the signed session cookie.

One challenge per browser session at a time.  A page shown again reuses the
session's live challenge (nothing rendered again, nothing written); a new one
comes when the previous was answered, has (nearly) expired, or the voter asked
for another (the « Afficher un autre CAPTCHA » button, which posts the form back
so that what was typed stays), and it replaces the old.  The id carries its own
expiry, so that an answer typed too late is told « expiré » on the CAPTCHA field
rather than the generic error.  The rules of a challenge (answer, expiry, single
use, one rendering) are ``reassort.procedures.captchas``.
"""

from __future__ import annotations

from flask import request, session

from reassort import runtime
from reassort.procedures import captchas
from reassort.web.extensions import db

SESSION_KEY = "captcha"
#: The « Afficher un autre CAPTCHA » button: its name and value in the form posted back.
REFRESH_FIELD, REFRESH_VALUE = "captcha_action", "nouveau"


def enabled() -> bool:
    return runtime.setting("CAPTCHA_ENABLED")


def new_challenge() -> str | None:
    """The challenge to show on this page: the session's live one, or a new one; ``None`` when off."""
    if not enabled():
        return None
    current = session.get(SESSION_KEY)
    # Reused while at least half its life is left, so that the voter has time to answer.
    if not refresh_requested() and captchas.remaining(current) * 2 >= runtime.setting("CAPTCHA_MAX_AGE") \
            and captchas.is_live(db.session, current):
        return current
    captchas.discard(db.session, current)
    challenge_id = captchas.issue()
    session[SESSION_KEY] = challenge_id
    return challenge_id


def current_challenge() -> str | None:
    return session.get(SESSION_KEY)


def is_live(challenge_id: str) -> bool:
    """This session's challenge, not yet answered nor expired."""
    return challenge_id == current_challenge() and captchas.is_live(db.session, challenge_id)


def rendering(challenge_id: str, kind: str) -> bytes | None:
    """The kept (or first) rendering of this session's challenge; ``None`` if it is not live."""
    if challenge_id != current_challenge():
        return None
    return captchas.rendering(db.session, challenge_id, kind)


def expired() -> bool:
    """This session's challenge is past ``CAPTCHA_MAX_AGE``: its answer will be refused as too late."""
    current = session.get(SESSION_KEY)
    return enabled() and current is not None and captchas.remaining(current) <= 0


def refresh_requested() -> bool:
    """The form was posted back by « Afficher un autre CAPTCHA »: show it again, check nothing."""
    return request.method == "POST" and request.form.get(REFRESH_FIELD) == REFRESH_VALUE


def check(answer: str | None) -> bool:
    """Consume this session's challenge and tell whether ``answer`` solves it (always true when off)."""
    if not enabled():
        return True
    return captchas.consume(db.session, session.pop(SESSION_KEY, None), answer)
