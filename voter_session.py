"""The logged-in voter, kept in the signed session cookie as id + epoch only.

The voter's ``session_epoch`` is bumped at logout and at a code regeneration:
every session holding an older epoch ends (SEC-33).  Nothing personal and
nothing typed for réassort ever goes into the session (SEC-20).
"""

from __future__ import annotations

import functools

from flask import current_app, g, redirect, session, url_for

import clock
from extensions import db
from models import Voter

IDLE_SECONDS_DEFAULT = 1800
AUTH_KEYS = ("vid", "ep", "seen", "gate")


def log_in(voter: Voter) -> None:
    """Start a fresh session for ``voter`` (renewed at login)."""
    session.clear()
    session["vid"] = voter.id
    session["ep"] = voter.session_epoch
    session["seen"] = clock.now_int()


def log_out() -> None:
    session.clear()


def _forget_voter() -> None:
    # Only the voter's keys: the CSRF token of a form being rendered must survive.
    for key in AUTH_KEYS:
        session.pop(key, None)


def current_voter() -> Voter | None:
    """The voter of this session, or ``None`` if absent, ended or idle too long."""
    if "voter" in g:
        return g.voter
    voter = None
    vid = session.get("vid")
    if vid is not None:
        idle = int(current_app.config.get("SESSION_IDLE_SECONDS", IDLE_SECONDS_DEFAULT))
        candidate = db.session.get(Voter, vid)
        fresh = clock.now_int() - int(session.get("seen", 0)) <= idle
        if candidate is not None and candidate.session_epoch == session.get("ep") and fresh:
            voter = candidate
            session["seen"] = clock.now_int()
        else:
            _forget_voter()
    g.voter = voter
    return voter


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_voter() is None:
            return redirect(url_for("auth.login"))
        return view(*args, **kwargs)
    return wrapped


def voter_key() -> str:
    """Rate-limit key of the logged-in voter (falls back to the address)."""
    voter = current_voter()
    from netaddr import client_ip
    return f"voter:{voter.id}" if voter else f"ip:{client_ip()}"
