"""``check-config --connect``: reach each service production needs, one line each, ok or failed with why.

- PostgreSQL: connects, then compares ``alembic_version`` with the code's head
  (``reassort.storage.schema``): a schema never created is a failure, not a 500
  at the first vote;
- Redis: a PING on ``RATELIMIT_STORAGE_URI`` (authentication included);
- SMTP: connection, EHLO, STARTTLS or TLS with the certificate verified, login,
  QUIT — nothing sent (``adapters.messaging.smtp.probe``);
- SMS gateway: its test address when it has one (``SMS_HTTP_CHECK_URL``), else
  the TCP connection and TLS handshake — nothing sent (``sms_http.probe``).

Every reason is cut to one line and loses the secrets it might quote.  Each
check is bounded in time by its service's own timeout.
"""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

#: Seconds before a database or Redis that does not answer counts as failed.
CONNECT_TIMEOUT = 5


@dataclass(frozen=True)
class Result:
    label: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok   ' if self.ok else 'ÉCHEC'}  {self.label} : {self.detail}"


class Failed(Exception):
    """A check failed; the message says why, in French, without secrets."""


def check_all(settings: dict, invalid: set[str]) -> list[Result]:
    """Every check, in order; a check whose settings are themselves invalid is skipped as failed."""
    secrets = [str(settings.get(name) or "") for name in ("SMTP_PASSWORD", "SMS_HTTP_AUTH", "HASH_PEPPER",
                                                         "SECRET_KEY")]
    secrets += [p for p in (_url_password(settings.get("DATABASE_URL")),
                            _url_password(settings.get("RATELIMIT_STORAGE_URI"))) if p]
    results = []
    for label, needs, check in _CHECKS:
        if needs & invalid:
            results.append(Result(label, False, f"non vérifié : {', '.join(sorted(needs & invalid))} invalide"))
            continue
        if check is _check_sms and settings.get("SMS_BACKEND") != "http":
            results.append(Result(label, False, "non vérifié : SMS_BACKEND n'est pas « http »"))
            continue
        if check is _check_smtp and settings.get("MAIL_BACKEND") != "smtp":
            results.append(Result(label, False, "non vérifié : MAIL_BACKEND n'est pas « smtp »"))
            continue
        try:
            results.append(Result(label, True, check(settings)))
        except Failed as exc:
            results.append(Result(label, False, _scrub(str(exc), secrets)))
    return results


def _check_database(settings: dict) -> str:
    from reassort.storage import schema

    url = make_url(settings["DATABASE_URL"])
    connect_args: dict = {}
    if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        if path and path != ":memory:" and not os.path.exists(path):
            raise Failed(f"fichier SQLite absent : {path}")
    engine = create_engine(url, connect_args=connect_args, poolclass=_null_pool())
    try:
        with engine.connect() as connection:
            problem = schema.problem(connection)
    except SQLAlchemyError as exc:
        raise Failed(f"injoignable : {_first_line(exc)}") from None
    finally:
        engine.dispose()
    if problem:
        raise Failed(problem)
    return f"connexion et schéma à jour (révision {', '.join(sorted(schema.expected_heads()))})"


def _null_pool():
    from sqlalchemy.pool import NullPool

    return NullPool


def _check_redis(settings: dict) -> str:
    uri = str(settings["RATELIMIT_STORAGE_URI"])
    scheme = urlsplit(uri).scheme.lower()
    if scheme in ("redis", "rediss"):
        import redis

        client = redis.Redis.from_url(uri, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT)
        try:
            client.ping()
        except redis.RedisError as exc:
            raise Failed(f"{type(exc).__name__} : {_first_line(exc)}") from None
        finally:
            client.close()
        return "PING accepté"
    if scheme == "memory":
        raise Failed("memory:// : rien à contacter, les limites ne tiendraient pas entre les processus")
    from limits.storage import storage_from_string

    if not storage_from_string(uri, wrap_exceptions=True).check():
        raise Failed("le stockage ne répond pas")
    return "le stockage répond"


def _check_smtp(settings: dict) -> str:
    from reassort.adapters.messaging import smtp

    try:
        return f"{settings['SMTP_HOST']}:{settings['SMTP_PORT']} : " + smtp.probe(settings)
    except smtplib.SMTPAuthenticationError as exc:
        raise Failed(f"authentification refusée (code {exc.smtp_code})") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise Failed(f"{settings['SMTP_HOST']} : {_first_line(exc)} (SMTP_TLS={settings['SMTP_TLS']})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise Failed(f"{settings['SMTP_HOST']}:{settings['SMTP_PORT']} : {type(exc).__name__} : "
                     f"{_first_line(exc)}") from None


def _check_sms(settings: dict) -> str:
    from reassort.adapters.messaging import DeliveryError, sms_http

    try:
        return sms_http.probe(settings)
    except DeliveryError as exc:
        raise Failed(str(exc)) from None


_CHECKS = (
    ("base de données", {"DATABASE_URL"}, _check_database),
    ("Redis (limites de débit)", {"RATELIMIT_STORAGE_URI"}, _check_redis),
    ("SMTP", {"MAIL_BACKEND", "SMTP_HOST", "SMTP_PORT", "SMTP_TLS", "SMTP_TIMEOUT", "SMTP_USER", "SMTP_PASSWORD"},
     _check_smtp),
    ("passerelle SMS", {"SMS_BACKEND", "SMS_HTTP_URL", "SMS_HTTP_CHECK_URL", "SMS_HTTP_AUTH", "SMS_HTTP_TIMEOUT"},
     _check_sms),
)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _url_password(url) -> str | None:
    try:
        return urlsplit(str(url or "")).password
    except ValueError:
        return None


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "•••")
    return text
