"""Development's embedded sender: queued notices leave right after the response.

With ``NOTICES_DRAIN=auto`` (development) or ``after_response``, a request that queued
a notice (``reassort.procedures.notices.enqueue``) sends the queue once its response
has been sent (``after_response.defer``): the voter has the page already,
and the demo needs no second process.  In production (``auto`` there means
``worker``) ``flask --app app messages work`` sends them, and web workers never wait
on a mail server for a notice.
"""

from __future__ import annotations

import logging

from flask import Flask, g
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from reassort.procedures import notices
from reassort.web import after_response

log = logging.getLogger("reassort.notices")


def drains_after_response(config) -> bool:
    mode = config["NOTICES_DRAIN"]
    return mode == "after_response" or (mode == "auto" and config["ENV"] != "production")


def init_app(app: Flask) -> None:
    if not drains_after_response(app.config):
        return

    @app.after_request
    def _send_after(response):
        if g.pop("outgoing_queued", False):
            after_response.defer(_drain)
        return response


def _drain(session: Session) -> None:
    """Send what is due; a failure stays queued (and is logged)."""
    try:
        notices.drain(session)
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("file des avis inaccessible : %s", type(exc).__name__)
