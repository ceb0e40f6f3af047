"""The engine of ``voters send-activation``: several SMTP connections, a rate, progress, a clean stop.

The main thread claims a batch of voters (``procedures.activation_mailing``), renders
their mails and hands them to ``connections`` sender threads, each keeping one SMTP
connection for many messages; then it confirms what the relay accepted and gives back
what it refused.  ``--rate`` spaces the hand-overs (one clock for every thread).  A run
of ``--stop-after`` failures in a row (the relay answering 451 to everyone, or down)
stops the run: what was claimed and not sent is given back, and the command says how
many were sent and how to resume.  Ctrl+C does the same.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import click
from flask import current_app

from reassort import runtime
from reassort.adapters import messaging
from reassort.cli.common import number
from reassort.procedures import accounts
from reassort.procedures import activation_mailing as mailing


class _Pace:
    """At most ``rate`` hand-overs a second, whichever thread makes them."""

    def __init__(self, rate: float | None):
        self.interval = 1.0 / rate if rate else 0.0
        self.next = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            now = time.monotonic()
            slot = max(self.next, now)
            self.next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


#: A batch handed to the senders: each future and the claim it sends to.
_Batch = dict[Future, mailing.Claimed]


class Run:
    #: Voters claimed at a time, at least (10 per connection otherwise).
    BATCH_MIN = 50

    def __init__(self, session, *, resend: bool, connections: int, rate: float | None, stop_after: int,
                 retry_interrupted: bool):
        self.s, self.resend, self.connections = session, resend, connections
        self.stop_after, self.retry_interrupted = stop_after, retry_interrupted
        self.pace = _Pace(rate)
        self.sent = self.failed = self.uncertain = self.in_a_row = 0
        self.stopped_by = ""  # "" | "failures" | "interrupt"
        self.last_error = ""
        self.local = threading.local()
        self.opened: list = []
        self.opened_lock = threading.Lock()
        self.batch = max(self.BATCH_MIN, 10 * connections)
        self.config = dict(current_app.config)
        self.days = runtime.setting("ACTIVATION_LINK_MAX_AGE") // 86400
        self.total = 0
        self.left_interrupted = 0

    # -- the sender threads ------------------------------------------------------------------

    def _connection(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = messaging.email_connection(self.config)
            with self.opened_lock:
                self.opened.append(conn)
        return conn

    def _send(self, message: messaging.Message) -> None:
        self.pace.wait()
        self._connection().send(message)

    # -- the main thread ---------------------------------------------------------------------

    def go(self) -> None:
        self.total = mailing.to_send(self.s, self.resend, self.retry_interrupted)
        self.left_interrupted = 0 if self.retry_interrupted else mailing.interrupted(self.s)
        self.started = time.monotonic()
        self.shown = 0.0
        cursor = 0
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        pool = ThreadPoolExecutor(max_workers=self.connections, thread_name_prefix="send-activation",
                                  initializer=lambda: app.app_context().push())
        in_flight: _Batch | None = None
        try:
            # Two batches in flight: the next one is claimed, rendered and queued while the
            # senders work on this one, so that no connection waits for the main thread.
            while not self.stopped_by:
                try:
                    claimed = mailing.claim(self.s, self.batch, cursor, self.resend, self.retry_interrupted)
                    if not claimed:
                        break
                    cursor = max(item.voter.id for item in claimed)
                    batch = self._submit(pool, [item for item in claimed if not mailing.is_placeholder(item)])
                    if in_flight is not None:
                        self._settle(in_flight)
                    in_flight = batch
                except KeyboardInterrupt:
                    self._interrupted()
            if in_flight is not None:
                self._settle(in_flight)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            for conn in self.opened:
                conn.close()
            self._progress(final=True)

    def _interrupted(self) -> None:
        self.stopped_by = "interrupt"
        click.echo("\nInterruption : les envois en cours se terminent, les autres sont rendus.", err=True)

    def _submit(self, pool: ThreadPoolExecutor, claimed: list[mailing.Claimed]) -> _Batch:
        futures: dict[Future, mailing.Claimed] = {}
        for item in claimed:
            link = accounts.activation_link(item.voter.id, item.generation)
            message = messaging.render_email("activation", item.voter.email, voter=item.voter, link=link,
                                             days=self.days)
            futures[pool.submit(self._send, message)] = item
        return futures

    def _settle(self, futures: _Batch) -> None:
        """Wait for a batch (cancelling what has not started once the run stops); confirm and give back."""
        sent: list[mailing.Claimed] = []
        unsent: list[mailing.Claimed] = []
        pending = set(futures)
        while pending:
            try:
                if self.stopped_by:
                    pending = self._cancel(pending, futures, sent, unsent)
                    break
                done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                for future in done:
                    self._outcome(future, futures[future], sent, unsent)
                self._progress()
            except KeyboardInterrupt:
                self._interrupted()
        mailing.confirm(self.s, sent)
        mailing.give_back(self.s, unsent)

    def _cancel(self, pending, futures, sent, unsent) -> set:
        """Cancel what has not started; wait for what has; sort both."""
        for future in pending:
            future.cancel()
        for future in pending:
            if future.cancelled():
                unsent.append(futures[future])
        running = {f for f in pending if not f.cancelled()}
        for future in wait(running).done:
            self._outcome(future, futures[future], sent, unsent)
        return set()

    def _outcome(self, future: Future, item: mailing.Claimed, sent: list, unsent: list) -> None:
        if future.cancelled():
            unsent.append(item)
            return
        error = future.exception()
        if error is None:
            sent.append(item)
            self.sent += 1
            self.in_a_row = 0
            return
        if not isinstance(error, messaging.DeliveryError):
            raise error
        self.last_error = str(error)
        if error.maybe_delivered:
            self.uncertain += 1  # left claimed: the next run will not write twice
        else:
            unsent.append(item)
            self.failed += 1
        click.echo(f"\nÉchec de l'envoi à l'électeur {item.voter.identifiant} : {error}", err=True)
        self.in_a_row += 1
        if self.in_a_row >= self.stop_after and not self.stopped_by:
            self.stopped_by = "failures"

    def _progress(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.shown < 1.0:
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-6)
        speed = self.sent / elapsed
        done = self.sent + self.failed + self.uncertain
        eta = ""
        if speed > 0 and self.total > done and not final:
            eta = f", fin estimée dans {_duration(int((self.total - done) / speed))}"
        click.echo(f"\r{number(self.sent)} / {number(self.total)} envoyés, {speed:.0f}/s{eta}   ",
                   err=True, nl=final)

    # -- the end -------------------------------------------------------------------------------

    def report(self) -> None:
        click.echo(f"Liens d'activation envoyés : {number(self.sent)} ; échecs : {number(self.failed)}.")
        if self.uncertain:
            click.echo(f"Envois sans confirmation du relais : {number(self.uncertain)} (peut-être partis : "
                       "non renvoyés ; « --retry-interrupted » pour les renvoyer).", err=True)
        if self.left_interrupted:
            click.echo(f"{number(self.left_interrupted)} électeur(s) d'une exécution coupée net n'ont rien "
                       "reçu de nouveau (leur message est peut-être parti) ; « --retry-interrupted » pour "
                       "leur écrire.", err=True)
        resume = ("Relancez la même commande pour reprendre : les électeurs déjà prévenus ne recevront "
                  "rien de plus.")
        if self.stopped_by == "failures":
            click.echo(f"Arrêt après {number(self.in_a_row)} échecs de suite (dernier : {self.last_error}). "
                       "Vérifiez le relais SMTP (quota, panne), puis : " + resume, err=True)
            raise SystemExit(1)
        if self.stopped_by == "interrupt":
            click.echo("Interrompu. " + resume, err=True)
            raise SystemExit(130)
        if self.failed:
            click.echo("Relancez la commande pour réessayer les envois en échec.", err=True)
            raise SystemExit(1)



def _duration(seconds: int) -> str:
    """« 1 h 04 », « 12 min », « 40 s »."""
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d}"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"
