"""Production e-mail backend: SMTP with STARTTLS or implicit TLS and optional auth.

Every mail carries a ``Date:`` and a ``Message-ID`` under the sender's own domain
(``MAIL_FROM``): without them, or with an id under a made-up name, receiving
servers score the mail as spam.  ``probe`` is ``check-config --connect``'s visit:
the same connection, EHLO, TLS and login, then QUIT without sending anything.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

from reassort.adapters.messaging.base import DeliveryError
from reassort.rules.mail import sender_domain


def send(message, config) -> None:
    mail = build(message, config)
    try:
        with _connect(config) as client:
            refused = client.send_message(mail)
            if refused:
                raise DeliveryError("destinataire refusé")
    except (smtplib.SMTPException, OSError) as exc:
        # The exception text may carry the address: keep only its type.
        raise DeliveryError(f"SMTP : {type(exc).__name__}") from None


def build(message, config) -> EmailMessage:
    """The mail as handed to the server: From, To, Subject, Date, Message-ID, text body."""
    mail = EmailMessage()
    mail["From"] = config["MAIL_FROM"]
    mail["To"] = message.to
    mail["Subject"] = message.subject
    # The real time of the hand-over, with its offset (RFC 5322 § 3.3).
    mail["Date"] = formatdate(localtime=True)
    mail["Message-ID"] = make_msgid(domain=message_id_domain(config))
    mail.set_content(message.body)
    return mail


def message_id_domain(config) -> str:
    """The sender's domain; else the public host (production refuses a MAIL_FROM without a domain)."""
    return (sender_domain(str(config.get("MAIL_FROM") or ""))
            or (urlsplit(str(config.get("PUBLIC_URL") or "")).hostname or "localhost"))


def _connect(config) -> smtplib.SMTP:
    """A client past EHLO, TLS (as configured, certificate verified) and login."""
    host, port, timeout = config["SMTP_HOST"], int(config["SMTP_PORT"]), float(config["SMTP_TIMEOUT"])
    mode = str(config.get("SMTP_TLS") or "none").lower()
    client: smtplib.SMTP
    if mode == "ssl":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    try:
        client.ehlo()
        if mode == "starttls":
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if config.get("SMTP_USER"):
            client.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
    except BaseException:
        client.close()
        raise
    return client


def probe(config) -> str:
    """Connect, EHLO, TLS and login as ``send`` does, then QUIT: what was checked, in French.

    Raises ``smtplib.SMTPException`` or ``OSError`` (``ssl.SSLError`` included) when a step fails.
    """
    mode = str(config.get("SMTP_TLS") or "none").lower()
    with _connect(config) as client:
        client.noop()
    steps = ["EHLO"]
    steps += {"starttls": ["STARTTLS (certificat vérifié)"], "ssl": ["TLS (certificat vérifié)"]}.get(mode, [])
    steps += ["authentification"] if config.get("SMTP_USER") else []
    return ", ".join(steps) + " ; aucun message envoyé"
