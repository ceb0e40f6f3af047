"""HTTP side of the stand-in: FranceConnect's ``/api/v2`` paths over ``Provider``.

Mounted at ``/fc-standin/api/v2`` inside the app when ``FRANCECONNECT_STANDIN`` is
true (demo, offline), or at ``/api/v2`` of its own small app
(``create_standin_app``) that the tests serve on loopback.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, redirect, render_template, request

from reassort.adapters.franceconnect.standin.provider import Provider, RegisteredClient

EXTENSION = "franceconnect_standin"

bp = Blueprint("franceconnect_standin", __name__, url_prefix="/fc-standin/api/v2", template_folder="templates")


def provider() -> Provider:
    """The stand-in of the current app."""
    return current_app.extensions[EXTENSION]


@bp.record_once
def _install(state) -> None:
    app = state.app
    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = _in_app_provider(app.config)
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        # Inside the app, CSRFProtect guards every POST.  /token is a server-to-server
        # call from the relying party, authenticated by its client secret: there is
        # no browser session to protect and no way for it to carry a CSRF token.
        # The consent form, a browser POST, keeps its CSRF token.
        csrf.exempt(token)


def _in_app_provider(config) -> Provider:
    """The in-app stand-in, registered for this app's own client settings."""
    from reassort import runtime
    from reassort.adapters.franceconnect.client import STANDIN_PATH, Settings

    settings = Settings.from_config(config)
    client = RegisteredClient(settings.client_id, settings.client_secret, (settings.redirect_uri,),
                              (settings.post_logout_redirect_uri,))
    return Provider(str(config["PUBLIC_URL"]).rstrip("/") + STANDIN_PATH, [client], now=runtime.now)


def _reply(reply) -> Response:
    body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
    return Response(body, status=reply.status, content_type=reply.content_type, headers=reply.headers)


@bp.get("/.well-known/openid-configuration")
def discovery():
    provider().hits["discovery"] += 1
    return _reply_json(provider().discovery())


@bp.get("/jwks")
def jwks():
    provider().hits["jwks"] += 1
    return _reply_json(provider().jwks())


def _reply_json(data) -> Response:
    return Response(json.dumps(data), content_type="application/json")


def _error_page(message: str):
    return render_template("franceconnect_standin/error.html", message=message), 400


@bp.route("/authorize", methods=["GET", "POST"])
def authorize():
    """GET: check the request and show the consent page; POST: the person's choice."""
    p = provider()
    if request.method == "GET":
        p.hits["authorize"] += 1
        try:
            request_id = p.begin(request.args)
        except ValueError as exc:
            # As FranceConnect does: an error page, never a redirect to an unchecked address.
            return _error_page(str(exc))
        return render_template("franceconnect_standin/consent.html", request_id=request_id,
                               identities=p.identities)
    request_id = request.form.get("request_id", "")
    choice = None if request.form.get("action") == "cancel" else request.form.get("identity", "")
    target = p.decide(request_id, choice)
    if target is None:
        return _error_page("Demande inconnue, expirée ou identité non choisie.")
    return redirect(target, 303)


@bp.post("/token")
def token():
    provider().hits["token"] += 1
    return _reply(provider().token(request.form))


@bp.get("/userinfo")
def userinfo():
    provider().hits["userinfo"] += 1
    return _reply(provider().userinfo(request.headers.get("Authorization", "")))


@bp.get("/session/end")
def session_end():
    provider().hits["session_end"] += 1
    try:
        return redirect(provider().end_session(request.args), 303)
    except ValueError as exc:
        return _error_page(str(exc))
