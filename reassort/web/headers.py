"""Headers on every response (SEC-18, SEC-32, SEC-36)."""

from flask import Flask, request

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; "
       "base-uri 'none'; frame-ancestors 'none'; form-action 'self'")

# Pages that hold a secret or a token in flight are never cached.
NO_STORE_PREFIXES = ("/reassort", "/activation", "/vote", "/espace-de-vote", "/connexion", "/captcha",
                     "/mot-de-passe", "/nouveau-lien-activation", "/mon-compte")


def init_app(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        apply(response.headers, request.path)
        return response


def apply(h, path: str) -> None:
    """Set the headers of every response on ``h`` (a response's ``Headers``)."""
    h.setdefault("Content-Security-Policy", CSP)
    h["Referrer-Policy"] = "no-referrer"
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    if path.startswith(NO_STORE_PREFIXES) or path == "/":
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
