"""Development's embedded sender: queued notices leave right after the response.

With ``NOTICES_DRAIN=auto`` (development) or ``after_response``, a request that queued
a notice (``reassort.procedures.notices.enqueue``) sends the queue once its response
has been handed to the server (``call_on_close``): the voter has the page already,
and the demo needs no second process.  In production (``auto`` there means
``worker``) ``flask --app app messages work`` sends them, and web workers never wait
on a mail server for a notice.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, g
from sqlalchemy.exc import SQLAlchemyError

from reassort.procedures import notices
from reassort.web.extensions import db

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
            target = current_app._get_current_object()
            response.call_on_close(lambda: drain_now(target))
        return response


def drain_now(app: Flask) -> None:
    """Send what is due, in an app context of its own; a failure stays queued (and is logged)."""
    with app.app_context():
        session = db.new_session()
        try:
            notices.drain(session)
        except SQLAlchemyError as exc:
            session.rollback()
            log.warning("file des avis inaccessible : %s", type(exc).__name__)
        finally:
            session.close()
