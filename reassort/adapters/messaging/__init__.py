"""Message delivery behind one small interface: ``send_email`` and ``send_sms``.

The backend of each channel is chosen by configuration (``MAIL_BACKEND``,
``SMS_BACKEND``): ``console`` and ``outbox`` for development, demos and tests,
``smtp`` and ``http`` for production.  Texts come from templates under
``templates/messages``.  A backend that cannot deliver raises ``DeliveryError``;
callers tell the voter and change nothing.  Every hand-over, accepted or refused, is
counted here once (``reassort.metrics.delivery``: channel, backend, recipient's
domain when it is a large public one).
"""

from __future__ import annotations

import time

from flask import Flask, current_app

from reassort import metrics
from reassort.adapters.messaging import console, outbox, sms_http, smtp
from reassort.adapters.messaging.base import DeliveryError, Message

__all__ = ["DeliveryError", "Message", "send_email", "send_sms", "render_email", "render_sms"]

MAIL_BACKENDS = {"console": console.send, "outbox": outbox.send, "smtp": smtp.send}
SMS_BACKENDS = {"console": console.send, "outbox": outbox.send, "http": sms_http.send}


def init_app(app: Flask) -> None:
    for name, table in (("MAIL_BACKEND", MAIL_BACKENDS), ("SMS_BACKEND", SMS_BACKENDS)):
        if app.config[name] not in table:
            raise ValueError(f"{name} inconnu : {app.config[name]!r} (choix : {', '.join(table)})")


def _render(name: str, context: dict) -> str:
    # Straight from the Jinja environment: messages get no request context
    # (no session, no current voter), only what the caller passes.
    return current_app.jinja_env.get_template(name).render(**context)


def render_email(template: str, to: str, **context) -> Message:
    """Render ``messages/<template>.txt``: first line ``Objet : …``, then the body."""
    text = _render(f"messages/{template}.txt", context)
    first, _, body = text.partition("\n")
    subject = first.removeprefix("Objet :").strip()
    return Message(channel="email", to=to, subject=subject, body=body.strip() + "\n")


def render_sms(template: str, to: str, **context) -> Message:
    body = " ".join(_render(f"messages/{template}.sms.txt", context).split())
    return Message(channel="sms", to=to, subject="", body=body)


def send_email(message: Message) -> None:
    """Hand ``message`` to the configured e-mail backend (``MAIL_BACKEND``); ``DeliveryError`` if refused."""
    _deliver(MAIL_BACKENDS, current_app.config["MAIL_BACKEND"], message)


def send_sms(message: Message) -> None:
    """Hand ``message`` to the configured SMS backend (``SMS_BACKEND``); ``DeliveryError`` if refused."""
    _deliver(SMS_BACKENDS, current_app.config["SMS_BACKEND"], message)


def _deliver(backends: dict, provider: str, message: Message) -> None:
    started = time.perf_counter()
    try:
        backends[provider](message, current_app.config)
    except DeliveryError:
        metrics.delivery(message.channel, provider, message.to, False, time.perf_counter() - started)
        raise
    metrics.delivery(message.channel, provider, message.to, True, time.perf_counter() - started)
