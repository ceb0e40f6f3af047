"""Self-hosted CAPTCHA: image with a French audio alternative (SEC-12, SEC-38).

Each challenge shown is a row (random id, expiry) and the id sits in the session.
The answer is derived from ``SECRET_KEY`` and the id, so nothing of it is stored
or sent to the browser.  Checking deletes the row first, whatever the answer:
a solved CAPTCHA cannot be replayed by resending the same cookie, and every
attempt needs a fresh one.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import secrets

from flask import current_app, session
from sqlalchemy import delete

import clock
from extensions import db
from models import CaptchaChallenge

ALPHABET = "23456789"  # digits read and heard without ambiguity, in French too
LENGTH = 6
VOICES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "captcha_voices")
SESSION_KEY = "captcha"


def enabled() -> bool:
    return bool(current_app.config["CAPTCHA_ENABLED"])


def answer_for(challenge_id: str) -> str:
    mac = hmac.new(str(current_app.config["SECRET_KEY"]).encode(), b"captcha\x00" + challenge_id.encode(),
                   hashlib.sha256).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in mac[:LENGTH])


def new_challenge() -> str | None:
    """Issue a challenge for this session (replacing any previous one)."""
    if not enabled():
        return None
    now = clock.now_int()
    s = db.session
    old = session.get(SESSION_KEY)
    if old:
        s.execute(delete(CaptchaChallenge).where(CaptchaChallenge.id == old))
    s.execute(delete(CaptchaChallenge).where(CaptchaChallenge.expires_at < now))
    challenge_id = secrets.token_urlsafe(24)
    s.add(CaptchaChallenge(id=challenge_id, expires_at=now + int(current_app.config["CAPTCHA_MAX_AGE"])))
    s.commit()
    session[SESSION_KEY] = challenge_id
    return challenge_id


def current_challenge() -> str | None:
    return session.get(SESSION_KEY)


def _live(challenge_id: str | None) -> bool:
    if not challenge_id:
        return False
    row = db.session.get(CaptchaChallenge, challenge_id)
    return row is not None and row.expires_at >= clock.now_int()


def check(answer: str | None) -> bool:
    """Consume this session's challenge and tell whether ``answer`` solves it."""
    if not enabled():
        return True
    challenge_id = session.pop(SESSION_KEY, None)
    if not challenge_id:
        return False
    result = db.session.execute(delete(CaptchaChallenge).where(
        CaptchaChallenge.id == challenge_id, CaptchaChallenge.expires_at >= clock.now_int()))
    db.session.commit()
    if result.rowcount != 1:
        return False  # expired, already used, or never issued
    typed = "".join((answer or "").split())
    return hmac.compare_digest(typed.encode(), answer_for(challenge_id).encode())


def image_png(challenge_id: str) -> bytes | None:
    if not _live(challenge_id):
        return None
    from captcha.image import ImageCaptcha
    buf = io.BytesIO()
    ImageCaptcha(width=240, height=90).write(answer_for(challenge_id), buf, format="png")
    return buf.getvalue()


def audio_wav(challenge_id: str) -> bytes | None:
    if not _live(challenge_id):
        return None
    from captcha.audio import AudioCaptcha
    return bytes(AudioCaptcha(voicedir=VOICES).generate(answer_for(challenge_id)))
