"""What every page knows: who runs the election, its title, its dates, the poll's state, where to get help.

The identity (``ELECTION_TITLE``, ``ELECTION_ORGANISER``, ``HELP_CONTACT``, the
logo) is the same for the app's whole life: Jinja globals, so that the messages
(SMS, e-mails, rendered outside any request) name the election too.  The poll's
state depends on the time: a context processor, read at each page.  Dates and
times are French, at the time of Paris (``reassort.rules.french``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import phonenumbers
from flask import Flask

from reassort import runtime
from reassort.procedures import poll
from reassort.rules import french, gsm


@dataclass(frozen=True)
class Election:
    """The election as the pages name it."""

    title: str
    organiser: str
    help_contact: str
    help_href: str | None
    has_logo: bool
    accessibility: str
    opens: dt.datetime | None
    closes: dt.datetime | None

    @property
    def period(self) -> str:
        return french.period(self.opens, self.closes)


@dataclass(frozen=True)
class PollState:
    """``not_yet``, ``open`` or ``closed`` now, with the window's ends."""

    state: str
    opens: dt.datetime | None
    closes: dt.datetime | None


def help_href(contact: str) -> str | None:
    """A link for the help contact: the URL itself, ``mailto:`` an address, ``tel:`` a number; else none."""
    value = contact.strip()
    if value.startswith(("https://", "http://")):
        return value
    if "@" in value and " " not in value:
        return "mailto:" + value
    try:
        number = phonenumbers.parse(value, "FR")
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_possible_number(number) and sum(c.isdigit() for c in value) >= 4:
        return "tel:" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def _election(app: Flask) -> Election:
    c = app.config
    return Election(title=c["ELECTION_TITLE"], organiser=c["ELECTION_ORGANISER"],
                    help_contact=c["HELP_CONTACT"], help_href=help_href(c["HELP_CONTACT"]),
                    has_logo=bool(c["LOGO_PATH"]), accessibility=c["ACCESSIBILITY_STATUS"],
                    opens=c["ELECTION_OPENS_AT"], closes=c["ELECTION_CLOSES_AT"])


def _at(moment) -> str:
    return french.at(moment, runtime.now())


def _until(moment) -> str:
    return french.until(moment, runtime.now())


def init_app(app: Flask) -> None:
    """Globals, filters and the poll's state for every template."""
    app.jinja_env.globals["election"] = _election(app)
    app.jinja_env.filters.update({
        "date_time": french.date_and_time, "clock": french.clock, "at": _at, "until": _until,
        "duration": french.duration, "gsm7": gsm.to_gsm7,
    })

    @app.context_processor
    def _poll_state():
        window = poll.window()
        return {"poll": PollState(poll.state(), window.opens, window.closes)}
