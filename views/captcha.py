"""CAPTCHA image and audio of the session's current challenge."""

from flask import Blueprint, Response, abort

import captcha_service

bp = Blueprint("captcha", __name__, url_prefix="/captcha")


def _only_own(challenge_id: str) -> None:
    # A challenge is served only to the session it was issued to.
    if challenge_id != captcha_service.current_challenge():
        abort(404)


@bp.get("/image/<challenge_id>.png")
def image(challenge_id):
    _only_own(challenge_id)
    data = captcha_service.image_png(challenge_id)
    if data is None:
        abort(404)
    return Response(data, mimetype="image/png")


@bp.get("/audio/<challenge_id>.wav")
def audio(challenge_id):
    _only_own(challenge_id)
    data = captcha_service.audio_wav(challenge_id)
    if data is None:
        abort(404)
    return Response(data, mimetype="audio/wav")
