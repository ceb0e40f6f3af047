"""Pages about the service itself: the accessibility statement and the deployment's logo."""

from __future__ import annotations

import mimetypes

from flask import Blueprint, Response, abort, current_app, render_template

bp = Blueprint("site", __name__)

LOGO_TYPES = {".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
              ".webp": "image/webp"}


@bp.get("/accessibilite")
def accessibility():
    """The accessibility statement (RGAA): status, what is not accessible, how to report a problem."""
    return render_template("site/accessibility.html")


@bp.get("/logo")
def logo():
    """The logo named by ``LOGO_PATH`` (checked at start: an existing file of an image type)."""
    path = current_app.config["LOGO_PATH"]
    if not path:
        abort(404)
    suffix = "." + path.rsplit(".", 1)[-1].lower()
    mimetype = LOGO_TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    with open(path, "rb") as image:  # a small file, read whole: nothing left open after the answer
        response = Response(image.read(), mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=3600"
    # An SVG opened on its own must not run anything (it would run on our origin).
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    return response
