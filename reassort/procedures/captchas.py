"""Self-hosted CAPTCHA: image with a French audio alternative (SEC-12, SEC-38, SEC-44).

A challenge is a random id that carries its own expiry; the answer is derived
from ``SECRET_KEY`` and the id, so nothing of it is stored or sent to the browser.
Which challenge belongs to which browser is the web glue's business
(``reassort.web.captcha_session``).

- Issuing one writes nothing: an unauthenticated page GET never adds a row.
- Its image and its audio are each rendered once, on their first fetch, and the
  bytes kept in the challenge's row: every later fetch (any worker, any VM) gets
  the same bytes, so there are no renderings to average, and renderings are
  limited per client (``CAPTCHA_RENDERS_PER_IP``).  ``image_png``/``audio_wav``
  draw the pictures and sounds; ``rendering`` is what keeps and limits them.
- Checking an answer marks the challenge used (and drops its bytes) in one
  atomic statement, whatever the answer: a solved CAPTCHA cannot be replayed,
  and every attempt needs a fresh one.  Rows go once expired.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import random
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import quotas
from reassort.storage.models import CaptchaChallenge

ALPHABET = "23456789"  # digits read and heard without ambiguity, in French too
LENGTH = 6
#: An id: its expiry (8 hex digits, epoch seconds) then 32 random URL-safe characters.
_EXPIRY_DIGITS = 8
_ID_LENGTH = _EXPIRY_DIGITS + 32
KINDS = ("image", "audio")


def answer_for(challenge_id: str) -> str:
    mac = hmac.new(str(runtime.setting("SECRET_KEY")).encode(), b"captcha\x00" + challenge_id.encode(),
                   hashlib.sha256).digest()
    return "".join(ALPHABET[b % len(ALPHABET)] for b in mac[:LENGTH])


def new_id(expires_at: int) -> str:
    """A fresh challenge id that expires at ``expires_at`` (epoch seconds)."""
    return f"{expires_at:0{_EXPIRY_DIGITS}x}" + secrets.token_urlsafe(24)


def expires_at(challenge_id: str | None) -> int:
    """The expiry an id carries; 0 for anything that is not an id of ours."""
    if not challenge_id or len(challenge_id) != _ID_LENGTH:
        return 0
    try:
        return int(challenge_id[:_EXPIRY_DIGITS], 16)
    except ValueError:
        return 0


def issue() -> str:
    """A new challenge, valid ``CAPTCHA_MAX_AGE`` seconds; nothing is written."""
    return new_id(runtime.now_int() + runtime.setting("CAPTCHA_MAX_AGE"))


def remaining(challenge_id: str | None) -> int:
    """Seconds the challenge still lives (0 when expired or not an id of ours)."""
    return max(0, expires_at(challenge_id) - runtime.now_int())


def is_live(s: Session, challenge_id: str | None) -> bool:
    """Not expired and not yet answered."""
    if not remaining(challenge_id):
        return False
    used = s.scalar(select(CaptchaChallenge.used).where(CaptchaChallenge.id == challenge_id))
    return not used


def discard(s: Session, challenge_id: str | None) -> None:
    """Drop a challenge replaced by a new one (its rendered bytes go with it)."""
    if challenge_id:
        s.execute(delete(CaptchaChallenge).where(CaptchaChallenge.id == challenge_id, CaptchaChallenge.used.is_(False)))
        s.commit()


def consume(s: Session, challenge_id: str | None, answer: str | None) -> bool:
    """Mark the challenge used and tell whether ``answer`` solved it (expired or used: never)."""
    if not remaining(challenge_id):
        return False
    assert challenge_id is not None  # noqa: S101  (remaining() is 0 without an id)
    # Insert it used, or turn the rendered row used: either way one statement, so that of
    # two concurrent answers with one cookie exactly one finds it unused.
    statement = _insert(s).values(id=challenge_id, expires_at=expires_at(challenge_id), used=True)
    spent = s.execute(statement.on_conflict_do_update(
        index_elements=["id"], set_={"used": True, "image": None, "audio": None},
        where=CaptchaChallenge.used.is_(False)).returning(CaptchaChallenge.id)).first()
    _forget_expired(s)
    s.commit()
    if spent is None:
        return False  # already used
    typed = "".join((answer or "").split())
    return hmac.compare_digest(typed.encode(), answer_for(challenge_id).encode())


def rendering(s: Session, challenge_id: str, kind: str) -> bytes | None:
    """The bytes of the challenge's ``kind`` ("image" or "audio"): rendered once, then kept.

    ``None`` for a challenge expired or used.  Rendering counts against the client's
    ``CAPTCHA_RENDERS_PER_IP`` first (``quotas.OverLimit`` beyond); a fetch of kept bytes is free.
    """
    column = getattr(CaptchaChallenge, kind)
    if not remaining(challenge_id):
        return None
    row = s.execute(select(CaptchaChallenge.used, column).where(CaptchaChallenge.id == challenge_id)).first()
    if row is not None and (row[0] or row[1] is not None):
        return None if row[0] else bytes(row[1])
    if quotas.per_client(runtime.setting("CAPTCHA_RENDERS_PER_IP"), "captcha-render") is None:
        raise quotas.OverLimit("captcha_render")
    data = RENDERERS[kind](challenge_id)
    s.execute(_insert(s).values(id=challenge_id, expires_at=expires_at(challenge_id), used=False)
              .on_conflict_do_nothing(index_elements=["id"]))
    s.execute(update(CaptchaChallenge)
              .where(CaptchaChallenge.id == challenge_id, CaptchaChallenge.used.is_(False), column.is_(None))
              .values({kind: data}).execution_options(synchronize_session=False))
    _forget_expired(s)
    s.commit()
    # Two first fetches at once: both rendered, one was kept; both serve the kept bytes.
    row = s.execute(select(CaptchaChallenge.used, column).where(CaptchaChallenge.id == challenge_id)).first()
    return None if row is None or row[0] or row[1] is None else bytes(row[1])


def _insert(s: Session):
    dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(CaptchaChallenge)


def _forget_expired(s: Session) -> None:
    s.execute(delete(CaptchaChallenge).where(CaptchaChallenge.expires_at < runtime.now_int()))


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


def _render_image(challenge_id: str) -> bytes:
    return image_png(challenge_id)  # looked up at call time: the drawing may be replaced


def _render_audio(challenge_id: str) -> bytes:
    return audio_wav(challenge_id)


RENDERERS = {"image": _render_image, "audio": _render_audio}
