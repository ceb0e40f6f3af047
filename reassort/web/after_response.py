"""Work done once the answer has left: ``defer(work, *args)``.

The forgotten-password and activation pages answer the same whatever the address
typed (SEC-49): the mail to a known address must not make its answer slower than
the answer for an unknown one.  So the view decides and answers, and the send runs
once the server has written the last byte of the response.  Notices after a change
go the same way: nothing slow sits between a decision and its answer.

A small WSGI wrapper (``init_app``) runs the deferred work when the server has
consumed the body, or when it closes it, whichever comes first, and only once: the
server asks for the next chunk only after writing the last one.  Both matter:
gunicorn always closes the body, but werkzeug's development server skips ``close()``
when the browser resets the connection after a redirect.

``work(session, *args)`` runs in a fresh app context with a database session of its
own and the request's client hash (the audit trail's), never the request itself.
Its failure is logged — nobody is left to tell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from reassort.web.extensions import db

log = logging.getLogger("reassort")

_PENDING = "reassort.after_response"


def init_app(app: Flask) -> None:
    """Wrap the app's WSGI callable so that deferred work runs after each answer."""
    app.wsgi_app = _AfterResponse(app.wsgi_app)  # type: ignore[method-assign]


def defer(work: Callable[..., Any], *args: Any) -> None:
    """Run ``work(session, *args)`` after this request's response has been sent."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client_hash = g.get("client_hash")
    request.environ.setdefault(_PENDING, []).append(lambda: _run(app, client_hash, work, args))


class _AfterResponse:
    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        body = self.wsgi_app(environ, start_response)
        pending = environ.get(_PENDING)
        return _ThenRun(body, pending) if pending else body


class _ThenRun:
    """The response body, then the deferred work: once it is consumed, or at ``close()``."""

    def __init__(self, body: Iterable[bytes], pending: list[Callable[[], None]]):
        self.body, self.pending = body, pending

    def __iter__(self) -> Iterator[bytes]:
        yield from self.body
        self._run_pending()  # asked for more after the last chunk: it has been written

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self._run_pending()

    def _run_pending(self) -> None:
        pending, self.pending = self.pending, []
        for job in pending:
            job()


def _run(app: Flask, client_hash: str | None, work: Callable[..., Any], args: tuple) -> None:
    with app.app_context():
        g.client_hash = client_hash
        s: Session = db.new_session()
        try:
            work(s, *args)
        except Exception:  # noqa: BLE001  (the answer has left: log it, the server must go on)
            s.rollback()
            log.exception("travail différé après la réponse en échec : %s", getattr(work, "__name__", "?"))
        finally:
            s.close()
