"""Bounded queueing, load shedding and the operator's switch: before anything else of a request.

- **Too old to serve**: a request that has already waited longer than ``SHED_AFTER_SECONDS``
  (since nginx received it: ``X-Request-Start: t=<seconds.millis>``, set by the nginx
  sample; else since gunicorn accepted it, ``reassort.web.gthread``) gets at once the
  French « service très sollicité » page, 503 with ``Retry-After``: its voter has
  given up or is about to, and serving it would only make the next ones wait too.
  Nothing is read (no session, no database, no Redis, no bcrypt): it is the cheapest
  answer there is.
- **Admission to bcrypt**: the login, question défi and activation POSTs each cost a
  bcrypt check (≈ 240 ms of CPU at cost 12).  At most ``BCRYPT_ADMISSION`` of them run
  at once in a worker (``admitted``); one that cannot start before its request is too
  old is shed the same way, so that they can never take every thread from ``/vote``
  and the réassort link, which cost ~5 ms.  A view whose bcrypt work ends before a slow
  part (the question défi, before it sends the link) gives its place back then (``checked``).
- **Suspended** (``flask --app app service suspend --message …``): every voter page
  shows the operator's public message instead of its forms, 503 with ``Retry-After``;
  the probes, the metrics and the static files still answer.

The first check is not Flask's: :func:`install_fast_shed` puts it outermost, so that a
request too old gets a copy of the page rendered at most every ``PAGE_SECONDS`` by that
worker, for a few µs of Python instead of Flask's whole pipeline (session, routing,
template, after-request hooks) — at 5× the capacity of ``POST /vote``, a shed answer
costing as much as a vote would leave no CPU to serve anyone.  Such a request gets no
line in the app's request log (nginx's and gunicorn's access logs have it); it is
counted.  The suspension is checked inside Flask (``_check``): it reads the database.

Every shed request is counted (``metrics.shed``: ``overload``, ``queue_full``,
``suspended``).
"""

from __future__ import annotations

import functools
import threading
import time

from flask import Flask, g, render_template, request
from werkzeug.datastructures import Headers

from reassort import metrics, runtime
from reassort.procedures import service
from reassort.web import gthread
from reassort.web import headers as security_headers
from reassort.web.extensions import db

#: Never shed nor suspended: the machines' probes and scrapes, the static files.
EXEMPT_ENDPOINTS = {"health.healthz", "health.readyz", "metrics.scrape", "static"}
REQUEST_START = "X-Request-Start"

_slots: dict[str, threading.BoundedSemaphore] = {}
_slots_lock = threading.Lock()
#: Per slot: the requests waiting for a place, and how long a view holding one takes (a moving average).
_waiting: dict[str, int] = {}
_seconds: dict[str, float] = {}


def init_app(app: Flask) -> None:
    """Register the checks first: before the rate limiter (Redis) and anything reading the session."""
    app.before_request(_check)


def started_at(header: str) -> float | None:
    """When the request reached us (epoch s): nginx's ``X-Request-Start`` (``header``), else gunicorn's accept."""
    return (parse_request_start(header) if header else None) or gthread.accepted_at()


def parse_request_start(value: str) -> float | None:
    """``t=1733040000.123`` (nginx ``$msec``), or the same in ms or µs: epoch seconds, else ``None``."""
    text = value.strip().removeprefix("t=")
    try:
        number = float(text)
    except ValueError:
        return None
    if number <= 0 or number != number:
        return None
    while number > 1e11:  # milliseconds or microseconds
        number /= 1000
    return number


def waited_since(header: str, now: float) -> float:
    """Seconds a request whose ``X-Request-Start`` is ``header`` has waited until ``now`` (0 when unknown)."""
    started = started_at(header)
    return max(0.0, now - started) if started is not None else 0.0


def waited() -> float:
    """Seconds this request has waited before reaching the app (0 when unknown)."""
    return waited_since(request.headers.get(REQUEST_START, ""), runtime.now())


def _check():
    # A request too old never gets here: ``_FastShed``, outermost, has answered it.
    if request.endpoint in EXEMPT_ENDPOINTS:
        return None
    state = service.current(db.new_session)
    if state.suspended:
        return suspended(state.message)
    return None


def _no_voter() -> None:
    # The pages below render without reading the session's voter (no database).
    g.no_voter = True


def busy(reason: str):
    """The French « service très sollicité » page, 503 + ``Retry-After``; counted as shed."""
    metrics.shed(reason)
    _no_voter()
    retry = runtime.setting("SHED_RETRY_AFTER")
    return render_template("errors/busy.html", retry=retry), 503, {"Retry-After": str(retry),
                                                                     "Cache-Control": "no-store"}


def suspended(message: str):
    """The operator's public message instead of the forms, 503 + ``Retry-After``."""
    metrics.shed("suspended")
    _no_voter()
    return render_template("errors/suspended.html", message=message), 503, {"Retry-After": "300",
                                                                            "Cache-Control": "no-store"}


def _slot(name: str) -> threading.BoundedSemaphore:
    with _slots_lock:
        if name not in _slots:
            _slots[name] = threading.BoundedSemaphore(runtime.setting("BCRYPT_ADMISSION"))
        return _slots[name]


def admitted(view):
    """Run a bcrypt-bound view's POST only when one of the worker's ``BCRYPT_ADMISSION`` places is free.

    It waits for a place at most until its request would be too old
    (``SHED_AFTER_SECONDS``), then it is shed (``queue_full``): nothing was checked.  When
    the expected wait is longer than half that (the requests already waiting and the half of
    the check under way, × how long a check takes here ÷ the places), it is shed at once
    instead: the voter reads « très sollicité » in milliseconds, not in 2 s.  Under a
    login rush a worker then holds one check and one or two waiting, enough that its place
    is never idle.
    """

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if request.method != "POST":
            return view(*args, **kwargs)
        budget = _budget(runtime.setting("SHED_AFTER_SECONDS"), waited())
        places = runtime.setting("BCRYPT_ADMISSION")
        slot = _slot("bcrypt")
        with _slots_lock:
            hopeless = _hopeless(budget, places)
            if not hopeless:
                _waiting["bcrypt"] = _waiting.get("bcrypt", 0) + 1
        if hopeless:
            return busy("queue_full")
        try:
            placed = slot.acquire(timeout=budget)
        finally:
            with _slots_lock:
                _waiting["bcrypt"] -= 1
        if not placed:
            return busy("queue_full")
        g.bcrypt_place = place = _Place(slot)
        try:
            return view(*args, **kwargs)
        finally:
            place.give_back()

    # Found by _FastShed on the outermost view function: functools.wraps copies it there.
    wrapped.bcrypt_bound = True
    return wrapped


class _Place:
    """A bcrypt place held by this request: given back once, at the end or when ``checked`` says so."""

    def __init__(self, slot: threading.BoundedSemaphore):
        self.slot, self.started, self.held = slot, time.monotonic(), True

    def give_back(self) -> None:
        if not self.held:
            return
        self.held = False
        took = time.monotonic() - self.started  # how long a place is held: the expected wait's unit
        with _slots_lock:
            _seconds["bcrypt"] = 0.8 * _seconds.get("bcrypt", took) + 0.2 * took
        self.slot.release()


def checked() -> None:
    """This request's bcrypt work is done: its place goes to the next one now, before a slow send.

    The question défi sends the link after its check; the send may take ``SMTP_TIMEOUT``,
    and a place held meanwhile would make every login of the worker wait or be shed.
    """
    place = g.pop("bcrypt_place", None)
    if place is not None:
        place.give_back()


def _budget(limit: float, waited: float) -> float:
    """How long a bcrypt POST may still wait for a place: ``SHED_AFTER_SECONDS`` (30 s when 0: off) less its wait."""
    return max(0.0, (limit or 30.0) - waited)


def _hopeless(budget: float, places: int) -> bool:
    """Whether a bcrypt POST arriving now would wait too long for a place (read under ``_slots_lock``, or racy).

    The expected wait: those ahead, and the check under way (half done, on average).  Against
    half the budget: a wait is an estimate, and one that runs out the whole budget ends shed
    after 2 s, the slowest « très sollicité » there is.
    """
    return (_waiting.get("bcrypt", 0) + 0.5) * _seconds.get("bcrypt", 0.0) / places > budget / 2


def install_fast_shed(app: Flask) -> None:
    """Wrap the whole WSGI app (call it last: outermost) in the early overload check."""
    app.wsgi_app = _FastShed(app, app.wsgi_app)  # type: ignore[method-assign]


class _FastShed:
    """Before Flask: a request that has waited longer than ``SHED_AFTER_SECONDS`` gets the busy page."""

    #: The page shows the poll's state: rendered again at most this often (s), per worker.
    PAGE_SECONDS = 5.0

    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self.limit = float(app.config["SHED_AFTER_SECONDS"])
        self.retry = int(app.config["SHED_RETRY_AFTER"])
        # The probes, the scrapes and the static files: never shed (their paths, up to a variable part).
        self.exempt = tuple(rule.rule.split("<", 1)[0] for rule in app.url_map.iter_rules()
                            if rule.endpoint in EXEMPT_ENDPOINTS)
        # The bcrypt POSTs (views under ``admitted``): their paths, and the prefixes of those with a variable part.
        bound = [rule.rule for rule in app.url_map.iter_rules()
                 if getattr(app.view_functions.get(rule.endpoint), "bcrypt_bound", False)]
        self.bcrypt_paths = {path for path in bound if "<" not in path}
        self.bcrypt_prefixes = tuple(path.split("<", 1)[0] for path in bound if "<" in path)
        self.places = int(app.config["BCRYPT_ADMISSION"])
        self.page: tuple[float, list[tuple[str, str]], bytes] | None = None

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        waited = self._waited(environ)
        if self.limit and waited > self.limit and not path.startswith(self.exempt):
            return self._busy("overload", start_response)
        # A bcrypt POST that its worker could not check in time: told here too, for µs instead of
        # Flask's pipeline (session, CSRF, rate limits) — under a login rush most of them are.
        if environ.get("REQUEST_METHOD") == "POST" \
                and (path in self.bcrypt_paths or path.startswith(self.bcrypt_prefixes)) \
                and _hopeless(_budget(self.limit, waited), self.places):
            return self._busy("queue_full", start_response)
        return self.wsgi_app(environ, start_response)

    def _busy(self, reason: str, start_response):
        metrics.shed(reason)
        _, headers, body = self._page()
        start_response("503 SERVICE UNAVAILABLE", headers)
        return [body]

    def _waited(self, environ) -> float:
        return waited_since(environ.get("HTTP_X_REQUEST_START", ""), runtime.now(self.app.config))

    def _page(self) -> tuple[float, list[tuple[str, str]], bytes]:
        page = self.page
        if page is None or time.monotonic() - page[0] > self.PAGE_SECONDS:
            with self.app.test_request_context("/"):
                _no_voter()
                body = render_template("errors/busy.html", retry=self.retry).encode()
            headers = Headers({"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(body)),
                               "Retry-After": str(self.retry)})
            security_headers.apply(headers, "/")
            page = self.page = (time.monotonic(), list(headers.items()), body)
        return page
