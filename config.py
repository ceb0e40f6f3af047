"""Every setting of Réassort, its default and its meaning, in one place.

Settings come from three layers, later ones winning: the defaults below, the
environment (``REASSORT_<NAME>``, values parsed as JSON where they can be, as
Flask's ``from_prefixed_env`` does), then the mapping given to
``create_app(config)`` (tests).  ``unsafe_settings`` lists what production refuses.
"""

from __future__ import annotations

import secrets

DEV_PEPPER = "dev-pepper-not-for-production"

DEFAULTS: dict[str, object] = {
    # development | production (production refuses unsafe settings)
    "ENV": "development",
    # Signing keys (sessions, links).  Random per run in development.
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": [],
    # Key of the keyed digests (vote code, NUMEN, NIR prefix); never in the database.
    "HASH_PEPPER": None,
    "DATABASE_URL": "sqlite:///instance/reassort.db",
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_ENABLED": True,
    # Per-IP limit of every form POST: generous, whole schools share one address.
    "RATELIMIT_PER_IP": "30 per minute",
    # Per-voter limits: the tight ones.
    "LOGIN_LIMIT_PER_ACCOUNT": "10 per 15 minutes",
    "VOTE_CODE_LIMIT_PER_VOTER": "10 per 15 minutes",
    "CHALLENGE_LIMIT_PER_VOTER": "10 per hour",
    "LINK_OPEN_LIMIT_PER_IP": "30 per minute",
    # Base URL of every link sent; never taken from the Host header.
    "PUBLIC_URL": "http://127.0.0.1:5000",
    # Messages: console | outbox | smtp
    "MAIL_BACKEND": "console",
    "MAIL_FROM": "Élections professionnelles <ne-pas-repondre@elections.example>",
    "SMTP_HOST": "localhost",
    "SMTP_PORT": 25,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    # none | starttls | ssl
    "SMTP_TLS": "none",
    "SMTP_TIMEOUT": 10,
    # SMS: console | outbox | http
    "SMS_BACKEND": "console",
    "SMS_HTTP_URL": "",
    # Full value of the Authorization header sent to the gateway (e.g. "Bearer …").
    "SMS_HTTP_AUTH": "",
    "SMS_SENDER": "ELECTIONS",
    "SMS_HTTP_TIMEOUT": 5,
    "OUTBOX_DIR": "instance/outbox",
    # Global caps on sends per hour (cost, flooding).
    "SMS_SENDS_PER_HOUR": 2000,
    "EMAIL_SENDS_PER_HOUR": 5000,
    "CAPTCHA_ENABLED": True,
    "CAPTCHA_MAX_AGE": 300,
    "ACTIVATION_LINK_MAX_AGE": 7 * 24 * 3600,
    "REISSUE_LINK_MAX_AGE": 600,
    "CODE_DISPLAY_SECONDS": 120,
    "CHALLENGE_MAX_FAILURES": 5,
    "CHALLENGE_LOCK_SECONDS": 3600,
    "LINKS_PER_HOUR": 5,
    # ISO datetimes with an offset; empty = always open.
    "ELECTION_OPENS_AT": "",
    "ELECTION_CLOSES_AT": "",
    "FRANCECONNECT_ISSUER": "",
    "FRANCECONNECT_CLIENT_ID": "",
    "FRANCECONNECT_CLIENT_SECRET": "",
    # Claims asked of FranceConnect (space-separated scopes; aliases such as identite_pivot allowed).
    "FRANCECONNECT_SCOPES": "openid given_name family_name birthdate birthplace birthcountry gender email",
    # Clock leeway (s) on the ID token's exp/iat: the provider's tokens live 60 s.
    "FRANCECONNECT_LEEWAY": 30,
    # Timeout (s) of each server-side call to the provider (discovery, token, userinfo, JWKS).
    "FRANCECONNECT_TIMEOUT": 10,
    # Run the local FranceConnect stand-in inside this app (development only).
    "FRANCECONNECT_STANDIN": False,
    # bcrypt cost; tests lower it.
    "BCRYPT_ROUNDS": 12,
    # Trust N proxies in front of the app for the client address (nginx: 1).
    "PROXY_COUNT": 0,
    # Number of gunicorn workers (production refuses memory:// with more than one).
    "WORKERS": 1,
    "LOG_LEVEL": "INFO",
}

#: Names whose value is a secret: never printed by ``check-config`` nor logged.
SECRET_NAMES = {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "HASH_PEPPER", "SMTP_PASSWORD",
                "SMS_HTTP_AUTH", "FRANCECONNECT_CLIENT_SECRET"}


def load(overrides=None, environ=None) -> dict:
    """Return the effective settings: defaults, then environment, then overrides."""
    import json
    import os

    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS)
    for key, raw in environ.items():
        if not key.startswith("REASSORT_"):
            continue
        name = key[len("REASSORT_"):]
        try:
            settings[name] = json.loads(raw)
        except ValueError:
            settings[name] = raw
    settings.update(overrides or {})
    return finalise(settings)


def finalise(settings: dict) -> dict:
    """Fill the development-only defaults (random key, dev pepper)."""
    if settings["ENV"] != "production":
        if not settings.get("SECRET_KEY"):
            settings["SECRET_KEY"] = secrets.token_urlsafe(32)
        if not settings.get("HASH_PEPPER"):
            settings["HASH_PEPPER"] = DEV_PEPPER
    return settings


def unsafe_settings(settings: dict) -> list[str]:
    """List every setting production refuses, each with its reason (French)."""
    problems = []
    key = settings.get("SECRET_KEY") or ""
    if len(str(key)) < 32:
        problems.append("SECRET_KEY : absente ou trop courte (32 caractères au moins)")
    pepper = settings.get("HASH_PEPPER") or ""
    if not pepper or pepper == DEV_PEPPER or len(str(pepper)) < 32:
        problems.append("HASH_PEPPER : absent, trop court ou valeur de développement")
    if not settings.get("CAPTCHA_ENABLED"):
        problems.append("CAPTCHA_ENABLED : le CAPTCHA ne peut pas être désactivé")
    if not settings.get("RATELIMIT_ENABLED"):
        problems.append("RATELIMIT_ENABLED : les limites de débit ne peuvent pas être désactivées")
    if settings.get("MAIL_BACKEND") != "smtp":
        problems.append("MAIL_BACKEND : seul « smtp » est permis en production")
    if settings.get("SMS_BACKEND") != "http":
        problems.append("SMS_BACKEND : seul « http » est permis en production")
    if settings.get("FRANCECONNECT_STANDIN"):
        problems.append("FRANCECONNECT_STANDIN : le fournisseur FranceConnect de démonstration est interdit")
    issuer = str(settings.get("FRANCECONNECT_ISSUER") or "")
    if issuer and not issuer.startswith("https://"):
        problems.append("FRANCECONNECT_ISSUER : doit être en https://")
    if issuer and not (settings.get("FRANCECONNECT_CLIENT_ID") and settings.get("FRANCECONNECT_CLIENT_SECRET")):
        problems.append("FRANCECONNECT_CLIENT_ID / FRANCECONNECT_CLIENT_SECRET : requis dès que "
                        "FRANCECONNECT_ISSUER est renseigné")
    if str(settings.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://"):
        problems.append("RATELIMIT_STORAGE_URI : memory:// ne tient pas entre plusieurs "
                        "processus ni au redémarrage ; utiliser redis://")
    if not str(settings.get("PUBLIC_URL", "")).startswith("https://"):
        problems.append("PUBLIC_URL : doit être en https:// (cookies Secure, liens envoyés)")
    return problems
