"""The message, the one error every backend raises, and the total deadline of a send."""

from __future__ import annotations

import contextlib
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

    ``watch(get_socket)`` starts a timer that shuts the connection down when the time is
    up, whatever the peer does (answers nothing, or one byte a second): every blocked
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

        timer = threading.Timer(max(0.0, self.ends - time.monotonic()), _cut)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
