"""The logged-in voter, kept in the signed session cookie as id + epoch only.

The voter's ``session_epoch`` is bumped at logout, at a code regeneration and at a
password reset or change: every session holding an older epoch ends (SEC-33).
Nothing personal and nothing typed for réassort ever goes into the session (SEC-20).
The views use the functions below and never the session's keys themselves.
"""

from __future__ import annotations

import functools

from flask import g, redirect, session, url_for

from reassort import runtime
from reassort.storage.models import Voter
from reassort.web.client_address import client_ip
from reassort.web.extensions import db

AUTH_KEYS = ("vid", "ep", "seen", "since", "gate")
GATE_KEY = "gate"  # the voter id whose code opened the voting space in this session


def log_in(voter: Voter) -> None:
    """Start a fresh session for ``voter`` (renewed at login: nothing of the old one survives)."""
    session.clear()
    session["vid"] = voter.id
    session["ep"] = voter.session_epoch
    session["seen"] = runtime.now_int()
    session["since"] = runtime.now_int()


def log_out() -> None:
    session.clear()


def _forget_voter() -> None:
    # Only the voter's keys: the CSRF token of a form being rendered must survive.
    for key in AUTH_KEYS:
        session.pop(key, None)


def current_voter() -> Voter | None:
    """The voter of this session, or ``None`` if absent, ended, idle too long or too old.

    A session lives ``SESSION_IDLE_SECONDS`` after its last request and, whatever the
    activity, ``SESSION_MAX_SECONDS`` after the login (SEC-45); one without a login
    time (made before that rule) has ended.
    """
    if "voter" in g:
        return g.voter
    voter = None
    vid = session.get("vid")
    if vid is not None:
        now = runtime.now_int()
        candidate = db.session.get(Voter, vid)
        fresh = (now - int(session.get("seen", 0)) <= runtime.setting("SESSION_IDLE_SECONDS")
                 and now - int(session.get("since", -10**12)) <= runtime.setting("SESSION_MAX_SECONDS"))
        if (candidate is not None and candidate.session_epoch == session.get("ep") and fresh
                and candidate.deactivated_at is None):
            voter = candidate
            session["seen"] = runtime.now_int()
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


def open_gate(voter: Voter) -> None:
    """The right code was typed: this session may enter the voting space."""
    session[GATE_KEY] = voter.id


def gate_open(voter: Voter) -> bool:
    return session.get(GATE_KEY) == voter.id


def after_regeneration(voter_id: int, session_epoch: int) -> None:
    """This session stays logged in (the voter's others ended) but must type the new code (SEC-31)."""
    session.pop(GATE_KEY, None)
    if session.get("vid") == voter_id:
        session["ep"] = session_epoch


def keep_this_session(voter_id: int, session_epoch: int) -> None:
    """The voter's other sessions have just ended (a password change): this one stays logged in."""
    if session.get("vid") == voter_id:
        session["ep"] = session_epoch


def voter_key() -> str:
    """Rate-limit key of the logged-in voter (falls back to the address)."""
    voter = current_voter()
    return f"voter:{voter.id}" if voter else f"ip:{client_ip()}"
