"""Decorators that stop a view before it runs: the one guard for « the poll has closed »."""

from __future__ import annotations

import functools

from flask import render_template

from reassort.procedures import poll


def refused_once_closed(view):
    """Réassort is refused once the poll has closed (SEC-30): the closed page, 403, nothing done."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if poll.has_closed():
            return render_template("reassort/closed.html"), 403
        return view(*args, **kwargs)

    return wrapped
