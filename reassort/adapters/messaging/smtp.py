"""Production e-mail backend: SMTP with STARTTLS or implicit TLS and optional auth.

Every mail carries a ``Date:`` and a ``Message-ID`` under the sender's own domain
(``MAIL_FROM``): without them, or with an id under a made-up name, receiving
servers score the mail as spam.  ``probe`` is ``check-config --connect``'s visit:
the same connection, EHLO, TLS and login, then QUIT without sending anything.

Each send has a **total** deadline, ``SMTP_TIMEOUT`` seconds from the connect to the
relay's « 250 » after the message (``base.Deadline``): a relay that answers slowly,
line by line, cannot hold a worker longer.  Once the relay has accepted the message a
failing QUIT changes nothing: it was delivered.  When the deadline strikes after the
message's last line has left, the relay may still deliver it: the error says so
(``maybe_delivered``).  ``Connection`` keeps one connection for many messages
(``voters send-activation``).
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

from reassort.adapters.messaging.base import Deadline, DeliveryError
from reassort.adapters.messaging.mail_policy import POLICY
from reassort.rules.mail import sender_address, sender_domain


class _Client(smtplib.SMTP):
    """smtplib's client, noting when the message's final « . » has gone (maybe delivered from then on)."""

    body_sent = False

    def send(self, s):
        super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.body_sent = True


class _ClientSSL(smtplib.SMTP_SSL, _Client):
    pass


def send(message, config) -> None:
    """Hand ``message`` over on a connection of its own, within ``SMTP_TIMEOUT`` seconds in all."""
    mail = build(message, config)
    deadline = Deadline(float(config["SMTP_TIMEOUT"]))
    client = _new_client(config, deadline.left())
    with deadline.watch(lambda: client.sock):
        try:
            _open(client, config, deadline)
            _send_mail(client, mail, config, message.to)
        except (smtplib.SMTPException, OSError) as exc:
            client.close()
            raise _error(exc, client, deadline) from None
    _quit(client)  # accepted already: a QUIT that fails changes nothing


def _quit(client: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        if client.sock is not None:
            client.sock.settimeout(1.0)
        client.quit()
    client.close()


def _send_mail(client: _Client, mail: EmailMessage, config, to: str) -> None:
    client.body_sent = False
    # The envelope given, not parsed back out of the headers smtplib would read it from.
    refused = client.send_message(mail, from_addr=sender_address(str(config["MAIL_FROM"])), to_addrs=[to])
    if refused:
        raise DeliveryError("destinataire refusé")


def _error(exc: BaseException, client: _Client, deadline: Deadline) -> DeliveryError:
    """The French error; the exception's text may carry the address: only its type, or the relay's code."""
    if isinstance(exc, DeliveryError):
        return exc
    code = getattr(exc, "smtp_code", None)
    late = deadline.expired or isinstance(exc, TimeoutError)
    what = f"SMTP {code}" if code else f"SMTP : {type(exc).__name__}" + (" (délai dépassé)" if late else "")
    # Before the final « . » the relay cannot deliver; after it, without its answer, it may have.
    return DeliveryError(what, maybe_delivered=client.body_sent and code is None)


def build(message, config) -> EmailMessage:
    """The mail as handed to the server: From, To, Subject, Date, Message-ID, text body."""
    mail = EmailMessage(policy=POLICY)
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


def _new_client(config, timeout: float) -> _Client:
    """A client not yet connected (so that the deadline's watch knows its socket from the start)."""
    mode = str(config.get("SMTP_TLS") or "none").lower()
    if mode == "ssl":
        return _ClientSSL(timeout=timeout, context=ssl.create_default_context())
    return _Client(timeout=timeout)


def _open(client: _Client, config, deadline: Deadline | None = None) -> None:
    """Connect, EHLO, TLS (as configured, certificate verified) and login."""
    mode = str(config.get("SMTP_TLS") or "none").lower()
    if deadline is not None:
        client.timeout = deadline.left()
    # The name TLS checks the certificate against (smtplib sets it only in its constructor).
    client._host = config["SMTP_HOST"]  # type: ignore[attr-defined]
    client.connect(config["SMTP_HOST"], int(config["SMTP_PORT"]))
    client.ehlo()
    if mode == "starttls":
        client.starttls(context=ssl.create_default_context())
        client.ehlo()
    if config.get("SMTP_USER"):
        client.login(config["SMTP_USER"], config["SMTP_PASSWORD"])


def _connect(config) -> smtplib.SMTP:
    """A client past EHLO, TLS and login, with ``SMTP_TIMEOUT`` as its per-operation timeout."""
    client = _new_client(config, float(config["SMTP_TIMEOUT"]))
    try:
        _open(client, config)
    except BaseException:
        client.close()
        raise
    return client


class Connection:
    """One SMTP connection reused for many messages, reopened when the relay drops it.

    For the mass mailing (``voters send-activation``): each message still has its total
    deadline (``SMTP_TIMEOUT``); a refusal of one message (4xx/5xx on MAIL, RCPT or DATA)
    leaves the connection usable, any other error closes it (the next send reconnects).
    """

    def __init__(self, config):
        self.config = config
        self.client: _Client | None = None

    def send(self, message) -> None:
        mail = build(message, self.config)
        deadline = Deadline(float(self.config["SMTP_TIMEOUT"]))
        client = self.client
        if client is None:
            client = _new_client(self.config, deadline.left())
        with deadline.watch(lambda: client.sock):
            try:
                if self.client is None:
                    _open(client, self.config, deadline)
                    self.client = client
                elif client.sock is not None:
                    client.sock.settimeout(deadline.left())
                _send_mail(client, mail, self.config, message.to)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                # The relay said no to this message (smtplib has reset the transaction): the
                # connection serves the next one.
                raise _error(exc, client, deadline) from None
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                client.close()
                raise _error(exc, client, deadline) from None

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            _quit(client)


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
