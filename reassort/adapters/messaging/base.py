"""The message, the one error every backend raises, and the total deadline of a send."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    channel: str  # "email" | "sms"
    to: str
    subject: str
    body: str


class DeliveryError(Exception):
    """The message could not be handed over (server refused, down or too slow).

    ``maybe_delivered``: the whole message had left when the answer failed to come (the
    deadline struck while the relay was still to say « accepted »).  It may arrive: a
    link in it must keep working, so the caller gives nothing back.
    """

    def __init__(self, text: str, maybe_delivered: bool = False):
        super().__init__(text)
        self.maybe_delivered = maybe_delivered


class ProviderBusy(DeliveryError):
    """This process already has as many sends in flight to the provider as it may: nothing was sent."""


class Deadline:
    """A total deadline (connect + the whole conversation) for one send, not a per-read timeout.

    ``watch(get_socket)`` has the process's watchdog shut the connection down when the time
    is up, whatever the peer does (answers nothing, or one byte a second): every blocked
    read or write then fails at once.  Each connect gets ``left()`` as its own timeout.
    """

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.ends = time.monotonic() + self.seconds
        self.expired = False

    def left(self) -> float:
        """Seconds left; ``socket.timeout`` when none are."""
        remaining = self.ends - time.monotonic()
        if remaining <= 0:
            self.expired = True
            raise TimeoutError("délai total de l'envoi dépassé")
        return remaining

    @contextlib.contextmanager
    def watch(self, get_socket: Callable[[], socket.socket | None]) -> Iterator[None]:
        def _cut() -> None:
            self.expired = True
            sock = get_socket()
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        entry = _WATCHDOG.add(self.ends, _cut)
        try:
            yield
        finally:
            _WATCHDOG.remove(entry)


class _Watchdog:
    """One thread for the deadlines of every send in the process.

    A ``threading.Timer`` per send cost a thread's start (about 0.2 ms, more when 16 sender
    threads share the GIL: ``voters send-activation``).  Here a send adds its deadline to a
    heap and takes it off when it ends.  The cut runs under the lock that ``remove`` takes:
    once a send has left ``watch``, its cut can no longer strike the connection's next send.
    """

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked worker starts its own thread

    def _reset(self) -> None:
        self.cond = threading.Condition()
        self.heap: list = []  # (ends, order, entry); entry = [cut], [None] once removed or done
        self.order = itertools.count()
        self.thread: threading.Thread | None = None

    def add(self, ends: float, cut: Callable[[], None]) -> list:
        entry = [cut]
        with self.cond:
            heapq.heappush(self.heap, (ends, next(self.order), entry))
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="send-deadlines", daemon=True)
                self.thread.start()
            elif self.heap[0][2] is entry:
                self.cond.notify()  # sooner than what the thread waits for
        return entry

    def remove(self, entry: list) -> None:
        with self.cond:
            entry[0] = None  # left in the heap: dropped when it comes up

    def _run(self) -> None:
        with self.cond:
            while True:
                while self.heap and self.heap[0][2][0] is None:
                    heapq.heappop(self.heap)
                if not self.heap:
                    self.cond.wait()
                    continue
                delay = self.heap[0][0] - time.monotonic()
                if delay > 0:
                    self.cond.wait(delay)
                    continue
                entry = heapq.heappop(self.heap)[2]
                cut, entry[0] = entry[0], None
                try:
                    cut()  # a shutdown(): it does not block
                except Exception:  # the thread must outlive one bad cut: it keeps every other deadline
                    logging.getLogger(__name__).exception("send_deadline_cut_failed")


_WATCHDOG = _Watchdog()
