"""Logs as JSON lines, one per request, each with a request id.

What a line may hold is decided here once: the route pattern rather than the
path (``/reassort/lien/<path:token>``, never the token), no query string, no
e-mail, no address in clear (the audit trail's keyed IP hash instead), and for an
exception its type and stack but not its message (SQL errors carry the values of
the row).  ``redact_path`` is shared with gunicorn's access log
(``gunicorn.conf.py``), which sees raw paths.

The request id comes from ``X-Request-ID`` when it looks like one (nginx sends
``$request_id``), else a fresh one; it is echoed in the response header and put
on every log record written while the request runs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
import uuid

from flask import Flask, g, has_request_context, request, request_started

from reassort import metrics, runtime

#: The app's logger (its level is ``LOG_LEVEL``); its records become JSON lines on stderr.
APP_LOGGER = "reassort"
REQUEST_LOGGER = "reassort.request"
REQUEST_ID_HEADER = "X-Request-ID"
#: Probes come every few seconds from the load balancer: logged at debug level only.
PROBES = ("/healthz", "/readyz")
# Letters, digits, "-" and "_" only: nothing an e-mail or a log forger can use.
_REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,64}")
# Paths whose last part is a secret token (links sent by e-mail or SMS).
_TOKEN_PREFIXES = ("/reassort/lien/", "/activation/", "/mot-de-passe/lien/")
# Any other segment that looks like a token or holds an address.
_TOKENISH = re.compile(r"[A-Za-z0-9_.~=-]{24,}|[^/]*@[^/]*|[^/]*%40[^/]*", re.IGNORECASE)
REDACTED = "<masqué>"
_MAX_PATH = 200
# In free text (Flask's "Exception on /reassort/lien/… [GET]", a library's message).
_TOKEN_IN_TEXT = re.compile(r"(/reassort/lien/|/activation/|/mot-de-passe/lien/)[^\s\]\[\"'?]+")
_EMAIL_IN_TEXT = re.compile(r"[^\s@<>\"'()\[\],;]+@[^\s@<>\"'()\[\],;]+")


def redact_path(path: str | None) -> str:
    """The path without its secrets: token parts and address-like segments masked."""
    path = path or "/"
    for prefix in _TOKEN_PREFIXES:
        if path.startswith(prefix):
            return prefix + REDACTED
    return _TOKENISH.sub(REDACTED, path)[:_MAX_PATH]


def redact_text(text: str) -> str:
    """A message without link tokens or e-mail addresses (the last net under every line)."""
    return _EMAIL_IN_TEXT.sub(REDACTED, _TOKEN_IN_TEXT.sub(r"\1" + REDACTED, text))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message and extras."""

    #: Attributes of ``LogRecord`` that are not extras.
    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            # The type and the stack, not the message: it may quote the row's values.
            entry["exception"] = exc_type.__name__
            entry["stack"] = "".join(traceback.format_tb(tb))
        return json.dumps(entry, ensure_ascii=False, default=str)


class _RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record written during the request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and "request_id" in g and not hasattr(record, "request_id"):
            record.request_id = g.request_id
        return True


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (gunicorn and pytest replace it)."""

    _reassort_json = True  # marks our handler, so that a logger gets it once

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def _install_handler(logger: logging.Logger) -> None:
    if any(getattr(h, "_reassort_json", False) for h in logger.handlers):
        return  # create_app runs many times in one process (tests)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_RequestIdFilter())
    logger.addHandler(handler)


def init_app(app: Flask) -> None:
    """JSON handlers on the app's loggers, request ids, one line per request."""
    from flask.logging import default_handler

    app.logger.removeHandler(default_handler)
    for logger in (app.logger, logging.getLogger(APP_LOGGER)):
        _install_handler(logger)
    log = logging.getLogger(REQUEST_LOGGER)
    # Before every before_request hook (the limiter's, which reaches Redis): a request stuck
    # anywhere is still known to the worker-timeout line.
    request_started.connect(_track, app)
    app.teardown_request(_untrack)

    @app.before_request
    def _start():
        g.request_started = time.perf_counter()
        _request_id()

    @app.after_request
    def _log(response):
        # A request refused by an earlier hook (rate limit) still gets its id here.
        rid = _request_id()
        response.headers[REQUEST_ID_HEADER] = rid
        started = g.get("request_started")
        seconds = time.perf_counter() - started if started else None
        _count(app, response.status_code, seconds)
        # Health checks and scrapes come every few seconds from the machines: debug only.
        level = logging.DEBUG if request.path in PROBES else logging.INFO
        if log.isEnabledFor(level):
            log.log(level, "requête", extra={
                "request_id": rid,
                "method": request.method,
                "route": request.url_rule.rule if request.url_rule is not None else redact_path(request.path),
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 1) if seconds is not None else None,
                "ip_hash": runtime.client_hash(),
            })
        return response


#: The requests this process is serving, per thread (gunicorn's gthread worker serves several at once).
_in_flight: dict[int, dict] = {}


def _track(_app, **_extra) -> None:
    _in_flight[threading.get_ident()] = dict(
        request_id=_request_id(), method=request.method,
        route=request.url_rule.rule if request.url_rule is not None else redact_path(request.path),
        started=time.perf_counter())


def _untrack(_exc=None) -> None:
    _in_flight.pop(threading.get_ident(), None)


def log_worker_timeout(timeout: int | None = None) -> None:
    """One JSON line for the request a worker was killed in (gunicorn's ``worker_abort`` hook).

    gunicorn's master sends SIGABRT to a worker silent for ``WORKER_TIMEOUT``
    seconds; the worker runs this in its signal handler, then exits.  Without it
    the request would leave no line at all: its ``after_request`` never comes.
    """
    serving = [dict(entry) for entry in list(_in_flight.values())] or [{}]
    for current in serving:
        started = current.pop("started", None)
        logging.getLogger(REQUEST_LOGGER).error(
            "requête interrompue : délai du worker dépassé (WORKER_TIMEOUT)" if current
            else "worker interrompu hors requête : délai du worker dépassé (WORKER_TIMEOUT)",
            extra={**current, "timeout_s": timeout, "pid": os.getpid(),
                   "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
                   "event": "worker_timeout"})
    for handler in logging.getLogger(APP_LOGGER).handlers:
        handler.flush()


def _count(app: Flask, status: int, seconds: float | None) -> None:
    """The request in the metrics, under its route's name (never its path)."""
    if "reassort.metrics_endpoints" not in app.extensions:
        # Every blueprint is registered by the first request: their names are the only
        # values an ``endpoint`` label may take.
        metrics.allow_endpoints(app.view_functions)
        app.extensions["reassort.metrics_endpoints"] = True
    endpoint = request.url_rule.endpoint if request.url_rule is not None else None
    metrics.observe_request(endpoint, request.method, status, seconds)


def _request_id() -> str:
    if "request_id" not in g:
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = supplied if _REQUEST_ID_SHAPE.fullmatch(supplied) else uuid.uuid4().hex
    return g.request_id
