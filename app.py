"""Réassort's web shell: ``create_app(config=None)``.

``create_app`` loads the settings (``config.py``: defaults, environment, then the
given mapping, each typed and checked), refuses to start in production on unsafe
settings, binds the extensions, the security headers, the blueprints, the error
pages and the command line.  Importing this module builds nothing: gunicorn
serves ``wsgi:app``, ``flask --app app …`` calls ``create_app()`` itself.
"""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config as settings_module
from reassort.settings import ConfigurationRefused

#: The settings table and production rules (``config.py``): ``check-config`` reads them through
#: ``--app app`` without building the app, which an unsafe environment would refuse.
CONFIG = settings_module


class UnsafeConfiguration(ConfigurationRefused):
    """Production was asked to start with settings it refuses."""

    def __init__(self, problems: list[str]):
        super().__init__(problems, "Configuration refusée en production")


def create_app(config: dict | None = None) -> Flask:
    """Build the app; ``config`` overrides the environment (tests)."""
    app = Flask(__name__, instance_relative_config=True)
    settings = settings_module.load(config)
    if settings["ENV"] == "production":
        problems = settings_module.unsafe_settings(settings)
        if problems:
            raise UnsafeConfiguration(problems)
    app.config.update(settings)
    app.extensions["reassort.config"] = settings_module
    _configure_cookies(app)
    if app.config["PROXY_COUNT"]:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    # Every form is a few short fields: refuse large bodies early (413, French page).
    app.config.setdefault("MAX_CONTENT_LENGTH", 64 * 1024)
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # the token lives as long as the session
    # Over HTTPS Flask-WTF also demands a same-host Referer, which browsers never send under
    # our Referrer-Policy: no-referrer (SEC-18): every POST would fail.  The token does the work.
    app.config["WTF_CSRF_SSL_STRICT"] = False
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # Storage failures (Redis down) raise limits' StorageError: counted in each worker's memory for
    # the outage (reassort.web.rate_fallback), or a 503 page (views/errors.py) when that is off.
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"wrap_exceptions": True})
    app.config["RATELIMIT_IN_MEMORY_FALLBACK_ENABLED"] = app.config["RATELIMIT_MEMORY_FALLBACK"]

    import views
    from reassort import cli
    from reassort.adapters import messaging
    from reassort.web import admission, after_response, client_address, headers, outgoing, rate_fallback, request_log
    from reassort.web.extensions import csrf, db, limiter

    db.init_app(app)
    # First of every check: a request too old to serve, or a suspended service, reads nothing.
    admission.init_app(app)
    csrf.init_app(app)
    client_address.init_app(app)  # before the limiter: a refused request is still attributed
    limiter.init_app(app)
    rate_fallback.init_app(app)
    headers.init_app(app)
    request_log.init_app(app)
    after_response.init_app(app)  # mails decided by a request leave after its answer
    messaging.init_app(app)
    outgoing.init_app(app)
    views.init_app(app)
    cli.init_app(app)
    admission.install_fast_shed(app)  # last: the outermost layer, before Flask itself
    logging.getLogger("reassort").setLevel(app.config["LOG_LEVEL"])
    return app


def _configure_cookies(app: Flask) -> None:
    secure = app.config["ENV"] == "production" or str(app.config["PUBLIC_URL"]).startswith("https://")
    app.config.update(
        SESSION_COOKIE_NAME="__Host-session" if app.config["ENV"] == "production" else "reassort_session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_PATH="/",
    )
