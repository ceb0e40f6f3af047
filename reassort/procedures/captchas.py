"""Self-hosted CAPTCHA: image with a French audio alternative (SEC-12, SEC-38).

Each challenge shown is a row (random id, expiry).  The answer is derived from
``SECRET_KEY`` and the id, so nothing of it is stored or sent to the browser.
Checking deletes the row first, whatever the answer: a solved CAPTCHA cannot be
replayed, and every attempt needs a fresh one.  Which challenge belongs to which
browser is the web glue's business (``reassort.web.captcha_session``).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import random
import secrets

from sqlalchemy import delete
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.storage.database import changed_rows
from reassort.storage.models import CaptchaChallenge

ALPHABET = "23456789"  # digits read and heard without ambiguity, in French too
LENGTH = 6


def answer_for(challenge_id: str) -> str:
    mac = hmac.new(str(runtime.setting("SECRET_KEY")).encode(), b"captcha\x00" + challenge_id.encode(),
                   hashlib.sha256).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in mac[:LENGTH])


def issue(s: Session, replacing: str | None = None) -> str:
    """A new challenge (the one it replaces and the expired ones deleted), committed."""
    now = runtime.now_int()
    if replacing:
        s.execute(delete(CaptchaChallenge).where(CaptchaChallenge.id == replacing))
    s.execute(delete(CaptchaChallenge).where(CaptchaChallenge.expires_at < now))
    challenge_id = secrets.token_urlsafe(24)
    s.add(CaptchaChallenge(id=challenge_id, expires_at=now + runtime.setting("CAPTCHA_MAX_AGE")))
    s.commit()
    return challenge_id


def is_live(s: Session, challenge_id: str | None) -> bool:
    if not challenge_id:
        return False
    row = s.get(CaptchaChallenge, challenge_id)
    return row is not None and row.expires_at >= runtime.now_int()


def consume(s: Session, challenge_id: str | None, answer: str | None) -> bool:
    """Delete the challenge and tell whether ``answer`` solved it (expired or used: never)."""
    if not challenge_id:
        return False
    result = s.execute(delete(CaptchaChallenge).where(
        CaptchaChallenge.id == challenge_id, CaptchaChallenge.expires_at >= runtime.now_int()))
    s.commit()
    if changed_rows(result) != 1:
        return False  # expired, already used, or never issued
    typed = "".join((answer or "").split())
    return hmac.compare_digest(typed.encode(), answer_for(challenge_id).encode())


def _rendering_rng(challenge_id: str, purpose: bytes) -> random.Random:
    """The rendering's randomness, derived from the key and the challenge: a challenge always
    looks and sounds the same (nothing to average over refetches, SEC-44), and nobody without
    the key can predict it."""
    seed = hmac.new(str(runtime.setting("SECRET_KEY")).encode(), purpose + b"\x00" + challenge_id.encode(),
                    hashlib.sha256).digest()
    return random.Random(seed)  # noqa: S311  (noise and layout of a picture, not a secret)


def image_png(challenge_id: str) -> bytes:
    """The challenge's six digits as a PNG (``captcha_image.render``)."""
    from reassort.procedures import captcha_image

    image, _boxes = captcha_image.render(answer_for(challenge_id), _rendering_rng(challenge_id, b"image"))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def audio_wav(challenge_id: str) -> bytes:
    """The challenge's six digits spoken in French, as a 16 kHz WAV (``captcha_audio.render``)."""
    from reassort.procedures import captcha_audio

    return captcha_audio.render(answer_for(challenge_id), _rendering_rng(challenge_id, b"audio"))
