"""``check-config [--connect]``: would this environment start in production, and does it reach its services?

Reads the environment as production would (``ENV`` judged as ``production``, so no
development default fills a gap), prints the settings with every secret masked
and every URL without its password or query, then lists **every** problem in one
pass: values that do not parse (unknown names, wrong types, dates without offset,
misspelt limits, out-of-bounds lifetimes), settings that contradict each other,
what production refuses (``config.unsafe_settings``, the list the app itself
uses), ``ENV`` not production, and each ``CHANGE_ME`` of the example file left in
place.  With ``--connect`` it also reaches PostgreSQL (schema at head), Redis,
SMTP and the SMS gateway (``reassort.cli.connections``), one line each.  Exit
status 1 when anything is wrong.

It never builds the app: a Flask CLI plugin (``flask.commands`` entry point in
``pyproject.toml``), found by ``flask --app app check-config`` before Flask tries
``create_app`` — which refuses an unsafe production environment and would
otherwise hide all but its own refusals.  The settings table is the web shell's
(``app.CONFIG``, i.e. ``config.py``), located through ``--app`` as Flask does.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from urllib.parse import urlsplit, urlunsplit

import click
from flask import Flask
from flask.cli import ScriptInfo, prepare_import

#: The web shell's ``config.py`` when an app registered the command (tests' ``app.test_cli_runner``).
_CONFIG: ModuleType | None = None

#: The settings an operator checks before the election, in the order printed.
SHOWN = ("ENV", "PUBLIC_URL", "PROXY_COUNT", "DATABASE_URL", "RATELIMIT_STORAGE_URI", "RATELIMIT_ENABLED",
         "RATELIMIT_MEMORY_FALLBACK", "RATELIMIT_PER_IP", "SECRET_KEY", "SECRET_KEY_FALLBACKS", "HASH_PEPPER",
         "BCRYPT_ROUNDS", "MAIL_BACKEND", "SMTP_HOST", "SMTP_PORT", "SMTP_TLS", "SMTP_USER", "SMTP_PASSWORD",
         "MAIL_FROM", "SMS_BACKEND", "SMS_HTTP_URL", "SMS_HTTP_CHECK_URL", "SMS_HTTP_AUTH", "SMS_SENDER",
         "CAPTCHA_ENABLED", "ELECTION_OPENS_AT", "ELECTION_CLOSES_AT", "REISSUE_LINK_MAX_AGE",
         "ACTIVATION_LINK_MAX_AGE", "FRANCECONNECT_ISSUER", "FRANCECONNECT_CLIENT_ID",
         "FRANCECONNECT_CLIENT_SECRET", "FRANCECONNECT_STANDIN", "WORKER_TIMEOUT", "LOG_LEVEL")
_URL_NAMES = {"DATABASE_URL", "RATELIMIT_STORAGE_URI", "SMS_HTTP_URL", "SMS_HTTP_CHECK_URL"}


def _config() -> ModuleType:
    """``config.py`` of the web shell: registered by the app, else found through ``--app`` (default ``app``)."""
    if _CONFIG is not None:
        return _CONFIG
    context = click.get_current_context(silent=True)
    info = context.find_object(ScriptInfo) if context else None
    target = (info.app_import_path if info and info.app_import_path else "app").split(":", 1)[0]
    # As Flask does for --app: put the module's folder on the path, then import it.  Importing
    # app.py builds nothing; wsgi.py would build the app, and is refused here.
    module = importlib.import_module(prepare_import(target))
    found = getattr(module, "CONFIG", None)
    if not isinstance(found, ModuleType):
        raise click.ClickException(f"--app {target} : ce module ne donne pas la table des réglages "
                                   "(CONFIG) ; lancez « flask --app app check-config ».")
    return found


def shown_value(name: str, value) -> str:
    """What may be printed of a setting: secrets say only whether they are set."""
    if name in _config().SECRET_NAMES:
        if not value:
            return "(absent)"
        if isinstance(value, (list, tuple)):
            return f"(défini : {len(value)} clé(s), valeurs masquées)"
        return f"(défini : {len(str(value))} caractères, valeur masquée)"
    if name in _URL_NAMES and value:
        return without_credentials(str(value))
    return repr(value) if isinstance(value, str) else str(value)


def without_credentials(url: str) -> str:
    """``url`` without its password (netloc) nor its query (API keys often sit there)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:•••@{host}" if ":" in userinfo else f"{user}@{host}"
    query = "•••" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def name_of(problem: str) -> str:
    """The setting a problem line names (``REASSORT_X : …`` or ``X : …`` → ``X``)."""
    return problem.split(" ", 1)[0].removeprefix("REASSORT_")


def judge(environ=None) -> tuple[dict, list[str]]:
    """The settings as production reads ``environ`` (default: this process's), and every problem.

    A value that does not parse is not judged again on the default left in its
    place: one line per mistake.
    """
    cfg = _config()
    values, parse_problems = cfg.SETTINGS.parse(None, environ)
    declared_env = values["ENV"]
    values["ENV"] = "production"
    found = list(parse_problems.values())
    failed = {name_of(p) for p in found}
    found += [p for p in cfg.inconsistent_settings(values) + cfg.unsafe_settings(values) if name_of(p) not in failed]
    if declared_env != "production" and "ENV" not in failed:
        found.append(f"ENV : vaut {declared_env!r} ; le service ne tournera pas en mode production "
                     "(REASSORT_ENV=production)")
    order = {name: i for i, name in enumerate(s.name for s in cfg.SETTINGS)}
    found.sort(key=lambda p: order.get(name_of(p), -1))  # unknown names first, then the table's order
    values["ENV"] = declared_env
    return values, found


@click.command("check-config")
@click.option("--quiet", "-q", is_flag=True, help="N'affiche que les problèmes.")
@click.option("--connect", is_flag=True,
              help="Contacte aussi PostgreSQL (schéma à jour), Redis, SMTP et la passerelle SMS (sans rien envoyer).")
def check_config(quiet: bool, connect: bool) -> None:
    """Vérifie la configuration de production (variables REASSORT_*) sans afficher les secrets."""
    values, found = judge()
    if not quiet:
        for name in SHOWN:
            click.echo(f"{name:<28} {shown_value(name, values.get(name))}")
        click.echo()
    if found:
        click.echo(f"Configuration refusée en production ({len(found)} problème(s)) :", err=True)
        for problem in found:
            click.echo(f"  - {problem}", err=True)
    failures = 0
    if connect:
        from reassort.cli import connections

        failed_names = {name_of(p) for p in found}
        click.echo(("\n" if found else "") + "Connexions (--connect) :")
        for result in connections.check_all(values, failed_names):
            click.echo(f"  {result.line()}", err=not result.ok)
            failures += not result.ok
    if not found and not failures:
        click.echo("Configuration acceptée pour la production." if not connect
                   else "Configuration acceptée pour la production ; chaque service répond.")
        return
    raise SystemExit(1)


def register(app: Flask) -> None:
    """Also on ``app.cli`` (``app.test_cli_runner``); ``flask --app app`` finds the plugin first."""
    global _CONFIG
    _CONFIG = app.extensions["reassort.config"]
    app.cli.add_command(check_config)
