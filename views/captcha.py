"""CAPTCHA image and audio of the session's current challenge: rendered once, then served as kept."""

from flask import Blueprint, Response, abort

from reassort.web import captcha_session

bp = Blueprint("captcha", __name__, url_prefix="/captcha")


def _serve(challenge_id: str, kind: str, mimetype: str) -> Response:
    # A challenge is served only to the session it was issued to, while it lives.
    data = captcha_session.rendering(challenge_id, kind)
    if data is None:
        abort(404)
    return Response(data, mimetype=mimetype)


@bp.get("/image/<challenge_id>.png")
def image(challenge_id):
    return _serve(challenge_id, "image", "image/png")


@bp.get("/audio/<challenge_id>.wav")
def audio(challenge_id):
    return _serve(challenge_id, "audio", "audio/wav")
