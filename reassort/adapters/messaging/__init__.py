"""Message delivery behind one small interface: ``send_email`` and ``send_sms``.

The backend of each channel is chosen by configuration (``MAIL_BACKEND``,
``SMS_BACKEND``): ``console`` and ``outbox`` for development, demos and tests,
``smtp`` and ``http`` for production.  Texts come from templates under
``templates/messages``.  A backend that cannot deliver raises ``DeliveryError``;
callers tell the voter and change nothing.  Every hand-over, accepted or refused, is
counted here once (``reassort.metrics.delivery``: channel, backend, recipient's
domain when it is a large public one).

Each send has a total deadline (the backends: ``SMTP_TIMEOUT``, ``SMS_HTTP_TIMEOUT``),
and a process has at most ``DELIVERY_IN_FLIGHT`` sends in flight per channel: one more
fails at once with ``ProviderBusy`` (nothing sent), so that a slow provider can hold
only so many of a worker's threads and never those serving ``/vote``.
"""

from __future__ import annotations

import threading
import time

from flask import Flask, current_app

from reassort import metrics
from reassort.adapters.messaging import console, outbox, sms_http, smtp
from reassort.adapters.messaging.base import DeliveryError, Message, ProviderBusy

__all__ = ["DeliveryError", "Message", "ProviderBusy", "send", "send_email", "send_sms", "render_email",
           "render_sms", "email_connection"]

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


def send(message: Message) -> None:
    """Hand ``message`` to its channel's backend; ``DeliveryError`` (or ``ProviderBusy``) if it was not."""
    (send_sms if message.channel == "sms" else send_email)(message)


def send_email(message: Message) -> None:
    """Hand ``message`` to the configured e-mail backend (``MAIL_BACKEND``); ``DeliveryError`` if refused."""
    _deliver(MAIL_BACKENDS, current_app.config["MAIL_BACKEND"], message)


def send_sms(message: Message) -> None:
    """Hand ``message`` to the configured SMS backend (``SMS_BACKEND``); ``DeliveryError`` if refused."""
    _deliver(SMS_BACKENDS, current_app.config["SMS_BACKEND"], message)


#: Sends in flight in this process, per channel (``DELIVERY_IN_FLIGHT`` at most).
_in_flight: dict[str, int] = {}
_in_flight_lock = threading.Lock()


def _enter(channel: str) -> None:
    with _in_flight_lock:
        if _in_flight.get(channel, 0) >= current_app.config["DELIVERY_IN_FLIGHT"]:
            raise ProviderBusy(f"{channel} : trop d'envois en cours dans ce processus")
        _in_flight[channel] = _in_flight.get(channel, 0) + 1


def _leave(channel: str) -> None:
    with _in_flight_lock:
        _in_flight[channel] -= 1


def _deliver(backends: dict, provider: str, message: Message, bounded: bool = True) -> None:
    if bounded:
        _enter(message.channel)
    started = time.perf_counter()
    try:
        backends[provider](message, current_app.config)
    except DeliveryError:
        metrics.delivery(message.channel, provider, message.to, False, time.perf_counter() - started)
        raise
    finally:
        if bounded:
            _leave(message.channel)
    metrics.delivery(message.channel, provider, message.to, True, time.perf_counter() - started)


class _OneByOne:
    """The mass-mailing interface over a backend that has no connection to keep (console, outbox)."""

    def send(self, message: Message) -> None:
        _deliver(MAIL_BACKENDS, current_app.config["MAIL_BACKEND"], message, bounded=False)

    def close(self) -> None:
        pass


def email_connection(config) -> "_Counted | _OneByOne":
    """A connection for many e-mails in a row (``voters send-activation``): ``send(message)``, ``close()``.

    Counted like every other hand-over; not bounded by ``DELIVERY_IN_FLIGHT`` (the command
    chooses its own number of connections).  One per thread, each thread in an app context.
    """
    backend = config["MAIL_BACKEND"]
    if backend != "smtp":
        return _OneByOne()
    return _Counted(smtp.Connection(config), backend)


class _Counted:
    def __init__(self, inner, provider: str):
        self.inner, self.provider = inner, provider

    def send(self, message: Message) -> None:
        started = time.perf_counter()
        try:
            self.inner.send(message)
        except DeliveryError:
            metrics.delivery(message.channel, self.provider, message.to, False, time.perf_counter() - started)
            raise
        metrics.delivery(message.channel, self.provider, message.to, True, time.perf_counter() - started)

    def close(self) -> None:
        self.inner.close()
