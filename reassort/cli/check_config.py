"""``check-config``: would this environment start in production?

Reads the settings as production would (``config.load`` with ``ENV`` forced to
``production``, so no development default fills a gap), prints them with every
secret masked and every URL without its password or query, then lists what
production refuses; exit status 1 when there is anything, 0 otherwise.

It reads the environment, not the running app: run it with the production
environment file loaded.  When that environment is unsafe and says
``REASSORT_ENV=production``, ``create_app`` already refuses to build the app and
``flask --app app check-config`` stops there with the same list and status 1.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import click
from flask import Flask

from reassort.settings import ConfigurationRefused

#: The web shell's ``config.py`` (its settings table and production rules), given at registration:
#: the command reads the environment, not the app, and needs no application context.
_CONFIG = None


def _config():
    return _CONFIG

#: The settings an operator checks before the election, in the order printed.
SHOWN = ("ENV", "PUBLIC_URL", "DATABASE_URL", "RATELIMIT_STORAGE_URI", "RATELIMIT_ENABLED",
         "PROXY_COUNT", "SECRET_KEY", "SECRET_KEY_FALLBACKS", "HASH_PEPPER",
         "MAIL_BACKEND", "SMTP_HOST", "SMTP_PORT", "SMTP_TLS", "SMTP_USER", "SMTP_PASSWORD", "MAIL_FROM",
         "SMS_BACKEND", "SMS_HTTP_URL", "SMS_HTTP_AUTH", "SMS_SENDER", "CAPTCHA_ENABLED",
         "ELECTION_OPENS_AT", "ELECTION_CLOSES_AT", "FRANCECONNECT_ISSUER", "FRANCECONNECT_CLIENT_ID",
         "FRANCECONNECT_CLIENT_SECRET", "FRANCECONNECT_STANDIN", "LOG_LEVEL")
_URL_NAMES = {"DATABASE_URL", "RATELIMIT_STORAGE_URI", "SMS_HTTP_URL"}


def shown_value(name: str, value) -> str:
    """What may be printed of a setting: secrets say only whether they are set."""
    if name in _config().SECRET_NAMES:
        if not value:
            return "(absent)"
        if isinstance(value, (list, tuple)):
            return f"(défini : {len(value)} clé(s), valeurs masquées)"
        return f"(défini : {len(str(value))} caractères, valeur masquée)"
    if name in _URL_NAMES and value:
        return _without_credentials(str(value))
    return repr(value) if isinstance(value, str) else str(value)


def _without_credentials(url: str) -> str:
    # Passwords sit in the netloc, API keys often in the query: print neither.
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:•••@{host}" if ":" in userinfo else f"{user}@{host}"
    query = "•••" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


#: The placeholder of ``deploy/reassort.env.example``.
PLACEHOLDER = "CHANGE_ME"


def problems(settings: dict) -> list[str]:
    """What production refuses in ``settings``, plus what it cannot see: ``ENV`` itself
    not production, and placeholders of the example file left in place."""
    found = []
    if settings.get("ENV") != "production":
        found.append(f"ENV : vaut {settings.get('ENV')!r} ; le service ne tournera pas en mode production "
                     "(REASSORT_ENV=production)")
    found += _config().unsafe_settings(settings)
    for name, value in settings.items():
        if PLACEHOLDER in str(value):
            found.append(f"{name} : contient encore « {PLACEHOLDER} » (valeur d'exemple à remplacer)")
    return found


@click.command("check-config")
@click.option("--quiet", "-q", is_flag=True, help="N'affiche que les problèmes.")
def check_config(quiet):
    """Vérifie la configuration de production (variables REASSORT_*) sans afficher les secrets."""
    try:
        declared_env = _config().load().get("ENV")
        settings = _config().load({"ENV": "production"})
    except ConfigurationRefused as refused:
        click.echo(f"Configuration refusée ({len(refused.problems)} problème(s)) :", err=True)
        for problem in refused.problems:
            click.echo(f"  - {problem}", err=True)
        raise SystemExit(1) from None
    settings["ENV"] = declared_env
    if not quiet:
        for name in SHOWN:
            click.echo(f"{name:<28} {shown_value(name, settings.get(name))}")
        click.echo()
    found = problems(settings)
    if not found:
        click.echo("Configuration acceptée pour la production.")
        return
    click.echo(f"Configuration refusée en production ({len(found)} problème(s)) :", err=True)
    for problem in found:
        click.echo(f"  - {problem}", err=True)
    raise SystemExit(1)


def register(app: Flask) -> None:
    global _CONFIG
    _CONFIG = app.extensions["reassort.config"]
    app.cli.add_command(check_config)
