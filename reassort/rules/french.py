"""Dates, times and durations written in French, at the time of Paris.

Voters read « jusqu'au lundi 8 décembre 2026 à 18 h », « à 10 h 42 », « 10 minutes »:
the typographic rules of the Imprimerie nationale (« 1er », « 9 h 05 », no leading
zero on the hour) rather than ``strftime``, whose output depends on the machine's
locale.  Pure functions: the current time, when it matters, is passed in.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
          "novembre", "décembre")


def local(moment: dt.datetime | float | int) -> dt.datetime:
    """``moment`` (an aware datetime or epoch seconds) at the time of Paris."""
    if isinstance(moment, (int, float)):
        return dt.datetime.fromtimestamp(moment, PARIS)
    if moment.tzinfo is None:
        raise ValueError("date sans fuseau horaire")
    return moment.astimezone(PARIS)


def plural(n: int, word: str) -> str:
    """``1 minute``, ``2 minutes`` (French: 0 and 1 take the singular)."""
    return f"{n} {word}{'s' if abs(n) >= 2 else ''}"


def day_number(day: int) -> str:
    return "1er" if day == 1 else str(day)


def date(moment, with_year: bool = True, with_weekday: bool = True) -> str:
    """``lundi 1er décembre 2026``."""
    d = local(moment)
    text = f"{day_number(d.day)} {MONTHS[d.month - 1]}" + (f" {d.year}" if with_year else "")
    return f"{DAYS[d.weekday()]} {text}" if with_weekday else text


def clock(moment) -> str:
    """``9 h``, ``9 h 05``, ``18 h 30``."""
    d = local(moment)
    return f"{d.hour} h" + (f" {d.minute:02d}" if d.minute else "")


def date_and_time(moment) -> str:
    """``lundi 1er décembre 2026 à 9 h``."""
    return f"{date(moment)} à {clock(moment)}"


def _same_day(moment, now) -> bool:
    return local(moment).date() == local(now).date()


def at(moment, now) -> str:
    """``à 10 h 42`` today, else ``le mardi 2 décembre à 10 h 42`` (the year when it is not this one)."""
    if _same_day(moment, now):
        return f"à {clock(moment)}"
    return f"le {date(moment, with_year=local(moment).year != local(now).year)} à {clock(moment)}"


def until(moment, now) -> str:
    """``jusqu'à 11 h 05`` today, else ``jusqu'au mardi 2 décembre à 11 h 05``."""
    if _same_day(moment, now):
        return f"jusqu'à {clock(moment)}"
    return f"jusqu'au {date(moment, with_year=local(moment).year != local(now).year)} à {clock(moment)}"


def period(opens, closes) -> str:
    """The window in a few words: ``du 1er au 8 décembre 2026``, ``du 30 novembre au 8 décembre 2026``,
    ``à partir du …``, ``jusqu'au …``; empty when neither end is set."""
    if opens is None and closes is None:
        return ""
    if closes is None:
        return f"à partir du {date(opens, with_weekday=False)}"
    if opens is None:
        return f"jusqu'au {date(closes, with_weekday=False)}"
    first, last = local(opens), local(closes)
    if first.date() == last.date():
        return f"le {date(first, with_weekday=False)}"
    if (first.year, first.month) == (last.year, last.month):
        start = day_number(first.day)
    elif first.year == last.year:
        start = date(first, with_year=False, with_weekday=False)
    else:
        start = date(first, with_weekday=False)
    return f"du {start} au {date(last, with_weekday=False)}"


def duration(seconds: int) -> str:
    """``10 minutes``, ``1 minute``, ``1 minute 30 secondes``, ``45 secondes`` (never « 0 minutes »);
    from an hour on, in days and hours (``1 heure``, ``1 heure 30 minutes``, ``7 jours``)."""
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, rest = divmod(rest, 60)
        parts = zip((days, hours, minutes, rest), ("jour", "heure", "minute", "seconde"), strict=True)
        return " ".join(plural(n, word) for n, word in parts if n)
    minutes, rest = divmod(seconds, 60)
    if not minutes:
        return plural(rest, "seconde")
    if not rest:
        return plural(minutes, "minute")
    return f"{plural(minutes, 'minute')} {plural(rest, 'seconde')}"
