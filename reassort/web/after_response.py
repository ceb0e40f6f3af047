"""Work done once the answer has left: ``defer(work, *args)``.

The forgotten-password and activation pages answer the same whatever the address
typed (SEC-49): the mail to a known address must not make its answer slower than
the answer for an unknown one.  So the view decides and answers, and the send runs
when the server closes the response, after its last byte was written (WSGI
``close()``: gunicorn and werkzeug call it once the body is out).  Notices after a
change go the same way: nothing slow sits between a decision and its answer.

``work(session, *args)`` runs in a fresh app context with a database session of its
own and the request's client hash (the audit trail's), never the request itself.
Its failure is logged — nobody is left to tell.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, after_this_request, current_app, g
from sqlalchemy.orm import Session

from reassort.web.extensions import db

log = logging.getLogger("reassort")


def defer(work: Callable[..., Any], *args: Any) -> None:
    """Run ``work(session, *args)`` after this request's response has been sent."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client_hash = g.get("client_hash")

    @after_this_request
    def _attach(response):
        response.call_on_close(lambda: _run(app, client_hash, work, args))
        return response


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
