"""The configured election window, read at the current time."""

from __future__ import annotations

from reassort import runtime
from reassort.rules.election import Window


def window() -> Window:
    return Window(runtime.setting("ELECTION_OPENS_AT"), runtime.setting("ELECTION_CLOSES_AT"))


def state() -> str:
    """``not_yet``, ``open`` or ``closed`` (``reassort.rules.election``)."""
    return window().state(runtime.now())


def is_open() -> bool:
    return window().is_open(runtime.now())


def has_closed() -> bool:
    return window().has_closed(runtime.now())
