"""Production e-mail backend: SMTP with STARTTLS or implicit TLS and optional auth."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from reassort.adapters.messaging.base import DeliveryError


def send(message, config) -> None:
    mail = EmailMessage()
    mail["From"] = config["MAIL_FROM"]
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Message-ID"] = make_msgid(domain="reassort")
    mail.set_content(message.body)
    host, port, timeout = config["SMTP_HOST"], int(config["SMTP_PORT"]), float(config["SMTP_TIMEOUT"])
    mode = str(config.get("SMTP_TLS") or "none").lower()
    try:
        client: smtplib.SMTP
        if mode == "ssl":
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if mode == "starttls":
                client.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USER"):
                client.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
            refused = client.send_message(mail)
            if refused:
                raise DeliveryError("destinataire refusé")
    except (smtplib.SMTPException, OSError) as exc:
        # The exception text may carry the address: keep only its type.
        raise DeliveryError(f"SMTP : {type(exc).__name__}") from None
