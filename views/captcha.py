"""CAPTCHA image and audio of the session's current challenge."""

from flask import Blueprint, Response, abort

from reassort.procedures import captchas
from reassort.web import captcha_session

bp = Blueprint("captcha", __name__, url_prefix="/captcha")


def _only_own_live(challenge_id: str) -> None:
    # A challenge is served only to the session it was issued to, while it lives.
    if not captcha_session.is_live(challenge_id):
        abort(404)


@bp.get("/image/<challenge_id>.png")
def image(challenge_id):
    _only_own_live(challenge_id)
    return Response(captchas.image_png(challenge_id), mimetype="image/png")


@bp.get("/audio/<challenge_id>.wav")
def audio(challenge_id):
    _only_own_live(challenge_id)
    return Response(captchas.audio_wav(challenge_id), mimetype="audio/wav")
