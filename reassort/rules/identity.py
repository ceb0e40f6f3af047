"""Does the identity FranceConnect returned match the voter's registry record? (SEC-27)

Pure functions, no I/O: the view hands in the voter and the verified userinfo
claims, and gets back the list of fields that differ (empty = match).

Compared: birth name, first names (FranceConnect's first given name must be
among the voter's), birth date, and birth place only when both sides have it.
Names are compared after normalising case, accents, ligatures, hyphens,
apostrophes and spaces, because the registry and the civil registry spell the
same name differently ("Le Gall" / "LE-GALL", "Noël" / "NOEL").
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from reassort.rules.register import INSEE_RE as _INSEE

# Fields named in the audit trail when they differ (short words, nothing personal).
FAMILY_NAME = "nom"
GIVEN_NAME = "prenom"
BIRTH_DATE = "date"
BIRTH_PLACE = "lieu"

# NFKD leaves these letters whole; the registry often writes them out.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O",
                            "đ": "d", "Đ": "D", "ł": "l", "Ł": "L"})
# Anything that is not a letter or a digit separates words: hyphens, apostrophes
# (straight and typographic), dots, commas, spaces.
_SEPARATORS = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Claimed:
    """The identity claims used for matching, as FranceConnect sends them."""

    family_name: str
    given_names: tuple[str, ...]
    birthdate: str
    birthplace: str = ""

    @classmethod
    def from_claims(cls, claims: Mapping) -> Claimed:
        """Read userinfo claims; ``given_name_array`` wins over the space-separated ``given_name``."""
        given = claims.get("given_name_array")
        if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
            given = str(claims.get("given_name") or "").split()
        return cls(family_name=str(claims.get("family_name") or ""),
                   given_names=tuple(g for g in given if g.strip()),
                   birthdate=str(claims.get("birthdate") or ""),
                   birthplace=str(claims.get("birthplace") or ""))


def words(text: str | None) -> list[str]:
    """Lower-case ASCII words of a name: accents, ligatures and separators removed."""
    decomposed = unicodedata.normalize("NFKD", (text or "").translate(_LIGATURES))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return [w for w in _SEPARATORS.split(plain) if w]


def same_family_name(registry: str, claimed: str) -> bool:
    """Birth names equal once normalised; word boundaries ignored ("LE GALL" = "Le-Gall" = "LEGALL")."""
    a, b = "".join(words(registry)), "".join(words(claimed))
    return bool(a) and a == b


def first_name_among(registry_prenoms: str, claimed_given_names: tuple[str, ...]) -> bool:
    """FranceConnect's first given name is one of the voter's given names.

    The first name may itself be compound ("Jean-Pierre"), and the registry may
    write it with a space or a hyphen: it matches when its words appear, in
    order and side by side, among the words of the voter's given names.
    """
    if not claimed_given_names:
        return False
    wanted = words(claimed_given_names[0])
    have = words(registry_prenoms)
    if not wanted:
        return False
    n = len(wanted)
    return any(have[i:i + n] == wanted for i in range(len(have) - n + 1))


def same_birthdate(registry: dt.date | None, claimed: str) -> bool:
    """``claimed`` is FranceConnect's ``YYYY-MM-DD``; anything else never matches."""
    if registry is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", claimed or ""):
        return False
    try:
        return dt.date.fromisoformat(claimed) == registry
    except ValueError:
        return False


def insee_code(value: str | None) -> str:
    """A 5-character INSEE commune code in upper case, or "" when absent or malformed."""
    code = (value or "").strip().upper()
    return code if _INSEE.match(code) else ""


def same_birthplace(registry: str | None, claimed: str | None) -> bool | None:
    """``None`` when either side lacks a code (born abroad, not imported): not compared.

    Corsica: communes born before 1976 may still carry their old ``20xxx`` code
    on one side and ``2Axxx``/``2Bxxx`` on the other; the commune number is kept.
    """
    a, b = insee_code(registry), insee_code(claimed)
    if not a or not b:
        return None
    if a == b:
        return True
    corsica = {a[:2], b[:2]}
    return a[2:] == b[2:] and "20" in corsica and bool(corsica & {"2A", "2B"})


def mismatches(voter, claimed: Claimed) -> list[str]:
    """The fields that differ between the voter's record and ``claimed``; empty means a match.

    ``voter`` needs ``nom``, ``prenoms``, ``date_naissance`` and ``lieu_naissance``.
    """
    differ = []
    if not same_family_name(voter.nom, claimed.family_name):
        differ.append(FAMILY_NAME)
    if not first_name_among(voter.prenoms, claimed.given_names):
        differ.append(GIVEN_NAME)
    if not same_birthdate(voter.date_naissance, claimed.birthdate):
        differ.append(BIRTH_DATE)
    if same_birthplace(voter.lieu_naissance, claimed.birthplace) is False:
        differ.append(BIRTH_PLACE)
    return differ


def matches(voter, claimed: Claimed) -> bool:
    """Whether every compared field agrees (SEC-27)."""
    return not mismatches(voter, claimed)
