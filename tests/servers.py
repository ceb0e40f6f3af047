"""Real servers on loopback for the channel tests: SMTP (aiosmtpd) and an HTTP SMS gateway."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from email import message_from_bytes
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


class SMTPRecorder:
    """Keeps every message received; ``refuse`` makes it answer 550 to RCPT; ``answer_after``
    delays the answer to DATA by that many seconds (the message is kept: it may arrive)."""

    def __init__(self):
        self.messages = []
        self.envelopes: list[tuple[str, list[str]]] = []  # (MAIL FROM, RCPT TO) of each message
        self.refuse = False
        self.answer_after = 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse:
            return "550 5.1.1 refusé"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if self.answer_after:
            await asyncio.sleep(self.answer_after)
        return "250 Message accepted"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SMTPTestServer:
    """``smtp_options`` go to aiosmtpd's server (``tls_context`` for STARTTLS, ``authenticator``…)."""

    def __init__(self, **smtp_options):
        self.handler = SMTPRecorder()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **smtp_options)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class SMSGateway:
    """A JSON SMS gateway: records requests; ``status`` to answer, ``hang`` to stall.

    ``GET /statut`` is its test address (sends nothing): ``check_status`` answers it.
    With ``tls_context`` it speaks HTTPS (``url``, ``check_url`` then say so).
    """

    def __init__(self, tls_context=None):
        self.requests = []
        self.checks = []
        self.status = 200
        self.check_status = 200
        self.hang = threading.Event()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                gateway.requests.append({"headers": dict(self.headers), "json": json.loads(body)})
                if gateway.hang.is_set():
                    gateway.release.wait(10)
                try:
                    self.send_response(gateway.status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"id": "msg-1"}')
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (its deadline): nobody to answer, nothing to print

            def do_GET(self):
                gateway.checks.append({"path": self.path, "headers": dict(self.headers)})
                self.send_response(gateway.check_status if self.path == "/statut" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.release = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        base = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.url = base + "/sms"
        self.check_url = base + "/statut"

    def __enter__(self):
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
