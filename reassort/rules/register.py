"""Shapes of the fields of the voters' register (the CSV the IT team imports).

Pure rules, shared by the importer's rule table (``reassort.importer.rows``), the
FranceConnect match (INSEE codes) and the notices file (formula characters).
"""

from __future__ import annotations

import datetime as dt
import re

#: A spreadsheet reads a cell starting with one of these as a formula (CSV
#: injection): names and identifiants go into the notices file opened in Excel.
FORMULA_CHARS = "=+-@"

#: An INSEE commune code: 5 digits, or 2A/2B + 3 digits (Corsica), upper case.
INSEE_RE = re.compile(r"(?:[0-9]{5}|2[AB][0-9]{3})\Z")
INSEE_LENGTH = 5

#: A professional address as directories issue them (ASCII), already lower-cased.
PROFESSIONAL_EMAIL_RE = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z")

#: No voter was born before this day.
EARLIEST_BIRTH = dt.date(1900, 1, 1)
_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_FR_DATE_RE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})\Z")


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would compute ``text`` (it starts with ``= + - @``)."""
    return bool(text) and text[0] in FORMULA_CHARS


def parse_birth_date(text: str) -> dt.date | None:
    """A date written ``AAAA-MM-JJ`` or ``JJ/MM/AAAA`` (day and month may have one digit)."""
    try:
        if _ISO_DATE_RE.match(text):
            return dt.date.fromisoformat(text)
        match = _FR_DATE_RE.match(text)
        if match:
            day, month, year = match.groups()
            return dt.date(int(year), int(month), int(day))
    except ValueError:
        pass  # 31/02, month 13…
    return None


def birth_date(text: str, today: dt.date) -> str | None:
    """The birth date as ISO text if it is a real past date since 1900, else ``None``."""
    value = parse_birth_date(text)
    if value is None or not EARLIEST_BIRTH <= value < today:
        return None
    return text if text[4:5] == "-" else value.isoformat()


def insee_code(text: str) -> str | None:
    """``text`` (already upper-cased) if it has the shape of an INSEE commune code."""
    return text if INSEE_RE.match(text) else None


def professional_email(text: str) -> str | None:
    """``text`` (already lower-cased) if it has the shape of a professional address."""
    return text if PROFESSIONAL_EMAIL_RE.match(text) else None
