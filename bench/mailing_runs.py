"""One measured run of ``voters send-activation`` against a real SMTP server on loopback, as JSON.

A fresh SQLite database receives ``--voters`` generated voters (``import_bench.generate_csv``
through the importer); an aiosmtpd server on 127.0.0.1 answers every DATA after
``--latency`` seconds (an asyncio sleep: the relay is slow, not busy, as a remote relay
is to us); the command is then run through Flask's CLI runner with ``--connections`` and
timed.  The figure is mails accepted by the relay per second of the command; every
voter must have received exactly one mail.

    python -m bench.mailing_runs --voters 5000 --latency 0.2 --connections 8 --json OUT.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import time

from aiosmtpd.controller import Controller

from bench import import_bench, procs

PEPPER = "bench-pepper-0123456789abcdef0123456789"


class SlowRelay:
    """Accepts every mail after ``latency`` seconds; counts what it accepted and the sessions."""

    def __init__(self, latency: float, accepted, sessions):
        self.latency, self.accepted, self.sessions = latency, accepted, sessions

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        with self.sessions.get_lock():
            self.sessions.value += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope):
        if self.latency:
            await asyncio.sleep(self.latency)
        with self.accepted.get_lock():
            self.accepted.value += len(envelope.rcpt_tos)
        return "250 OK"


def _relay(port: int, latency: float, accepted, sessions, ready) -> None:
    """The relay's own process (as a real relay is not in our process: it takes no GIL of ours)."""
    controller = Controller(SlowRelay(latency, accepted, sessions), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    signal.sigwait([signal.SIGTERM])
    controller.stop()


def measure(voters: int, latency: float, connections: int, tmp: str) -> dict:
    from app import create_app
    from reassort.storage import migrations
    from reassort.web.extensions import db

    csv_path = os.path.join(tmp, "voters.csv")
    import_bench.generate_csv(csv_path, voters)
    port = procs.free_port()
    accepted, sessions, ready = multiprocessing.Value("i", 0), multiprocessing.Value("i", 0), multiprocessing.Event()
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])  # the child waits for it with sigwait
    relay = multiprocessing.get_context("fork").Process(target=_relay, args=(port, latency, accepted, sessions, ready))
    relay.start()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
    if not ready.wait(10):
        relay.kill()
        raise SystemExit("le relais SMTP ne démarre pas")
    try:
        app = create_app({"DATABASE_URL": f"sqlite:///{os.path.join(tmp, 'mailing.db')}", "HASH_PEPPER": PEPPER,
                          "ENV": "development", "MAIL_BACKEND": "smtp", "SMTP_HOST": "127.0.0.1",
                          "SMTP_PORT": port, "SMTP_TLS": "none", "SMS_BACKEND": "console"})
        with app.app_context():
            migrations.upgrade(db.engine)
            runner = app.test_cli_runner()
            imported = runner.invoke(args=["voters", "import", csv_path])
            if imported.exit_code != 0:
                raise SystemExit("import impossible : " + imported.output[-500:])
            start = time.perf_counter()
            outcome = runner.invoke(args=["voters", "send-activation", "--connections", str(connections)])
            seconds = time.perf_counter() - start
            db.engine.dispose()
        if outcome.exit_code != 0:
            print(outcome.output, repr(outcome.exception) if outcome.exception else "", file=sys.stderr)
            raise SystemExit(f"send-activation a échoué (statut {outcome.exit_code})")
    finally:
        relay.terminate()
        relay.join(10)
    if accepted.value != voters:
        raise SystemExit(f"{accepted.value} courriels reçus pour {voters} électeurs")
    return {"voters": voters, "latency_s": latency, "connections": connections, "seconds": seconds,
            "mails_per_s": voters / seconds, "smtp_sessions": sessions.value}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--voters", type=int, default=5000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--json", required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="reassort-mailing-") as tmp:
        result = measure(args.voters, args.latency, args.connections, tmp)
    with open(args.json, "w") as fh:
        json.dump(result, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
