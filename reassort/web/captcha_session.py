"""The CAPTCHA of this browser: the challenge id kept in the signed session cookie.

One challenge per browser session at a time.  A page shown again reuses the
session's live challenge (nothing rendered again, nothing written); a new one
comes when the previous was answered, has (nearly) expired, or the voter asked
for another (the refresh link's ``?captcha=nouveau``), and it replaces the old.
The rules of a challenge (answer, expiry, single use, one rendering) are
``reassort.procedures.captchas``.
"""

from __future__ import annotations

from flask import request, session

from reassort import runtime
from reassort.procedures import captchas
from reassort.web.extensions import db

SESSION_KEY = "captcha"
#: The query string of the template's « Afficher un autre CAPTCHA » link.
REFRESH_ARG, REFRESH_VALUE = "captcha", "nouveau"


def enabled() -> bool:
    return runtime.setting("CAPTCHA_ENABLED")


def new_challenge() -> str | None:
    """The challenge to show on this page: the session's live one, or a new one; ``None`` when off."""
    if not enabled():
        return None
    current = session.get(SESSION_KEY)
    refresh = request.args.get(REFRESH_ARG) == REFRESH_VALUE
    # Reused while at least half its life is left, so that the voter has time to answer.
    if not refresh and captchas.remaining(current) * 2 >= runtime.setting("CAPTCHA_MAX_AGE") \
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


def check(answer: str | None) -> bool:
    """Consume this session's challenge and tell whether ``answer`` solves it (always true when off)."""
    if not enabled():
        return True
    return captchas.consume(db.session, session.pop(SESSION_KEY, None), answer)
