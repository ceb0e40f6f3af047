"""Gunicorn's threaded worker, noting when each request was accepted (for ``admission``).

``gunicorn.conf.py`` runs ``reassort.web.gthread.Worker``: gunicorn's own ``gthread``
worker, which also writes the instant a connection became ready to be served (accepted,
or readable again on a kept-alive connection) in a thread-local that
``accepted_at()`` reads.  Without nginx's ``X-Request-Start`` this is how long a request
waited in the worker for a free thread: little, since ``gunicorn.conf.py`` lets a worker take a
connection only when a thread is free.  The wait before, in the listening socket's queue, is
seen only from nginx's header (it stamps the request when it arrives): production runs behind
nginx, as the sample sets it.
"""

from __future__ import annotations

import threading
import time

from gunicorn.workers.gthread import ThreadWorker

_local = threading.local()


def accepted_at() -> float | None:
    """When the connection of this thread's request was queued (epoch s), or ``None`` outside gunicorn."""
    return getattr(_local, "accepted_at", None)


class Worker(ThreadWorker):
    """``gthread``, with the queueing instant of each connection."""

    def enqueue_req(self, conn):
        conn.reassort_queued_at = time.time()
        super().enqueue_req(conn)

    def handle(self, conn):
        _local.accepted_at = getattr(conn, "reassort_queued_at", None)
        try:
            return super().handle(conn)
        finally:
            _local.accepted_at = None
