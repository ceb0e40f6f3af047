"""Does the identity FranceConnect returned match the voter's registry record? (SEC-27)

Pure functions, no I/O: the view hands in the voter and the verified userinfo
claims, and gets back the list of fields that differ (empty = match).

Compared (SEC-27, SEC-48): birth name, first names (FranceConnect's first given
name must be one of the voter's, as a whole name: « Angela » is not « Marie-Angela »),
birth date, and birth place: a voter the registry says was born in a French
commune must come back born in France (``birthcountry`` 99100) in the same
commune; one born abroad (a ``99xxx`` country code in the registry) in the same
country.  Names are compared after normalising case, accents, ligatures, hyphens,
apostrophes and spaces, because the registry and the civil registry spell the
same name differently ("Le Gall" / "LE-GALL", "Noël" / "NOEL"); letters outside
the Latin alphabet are kept, never dropped (« DUBOIS Ж » is not « DUBOIS »).
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
BIRTH_COUNTRY = "pays"
#: INSEE code of France as a birth country; codes 99xxx name the other countries.
FRANCE = "99100"

# NFKD leaves these letters whole; the registry often writes them out.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O",
                            "đ": "d", "Đ": "D", "ł": "l", "Ł": "L"})
# Anything that is not a letter or a digit (of any alphabet) separates words: hyphens,
# apostrophes (straight and typographic), dots, commas, spaces.
_SEPARATORS = re.compile(r"[\W_]+")
# Between given names: spaces and commas; a hyphen joins the words of one compound name.
_NAME_SEPARATORS = re.compile(r"[\s,;/]+")


@dataclass(frozen=True)
class Claimed:
    """The identity claims used for matching, as FranceConnect sends them."""

    family_name: str
    given_names: tuple[str, ...]
    birthdate: str
    birthplace: str = ""
    birthcountry: str = ""

    @classmethod
    def from_claims(cls, claims: Mapping) -> Claimed:
        """Read userinfo claims; ``given_name_array`` wins over the space-separated ``given_name``."""
        given = claims.get("given_name_array")
        if not isinstance(given, list) or not all(isinstance(g, str) for g in given):
            given = str(claims.get("given_name") or "").split()
        return cls(family_name=str(claims.get("family_name") or ""),
                   given_names=tuple(g for g in given if g.strip()),
                   birthdate=str(claims.get("birthdate") or ""),
                   birthplace=str(claims.get("birthplace") or ""),
                   birthcountry=str(claims.get("birthcountry") or ""))


def words(text: str | None) -> list[str]:
    """Lower-case words of a name: accents, ligatures and separators removed, other letters kept.

    Latin letters lose their accents (« Noël » → ``noel``); letters of other alphabets
    stay as they are (« Ж » → ``ж``), so that a name never matches by losing them.
    """
    decomposed = unicodedata.normalize("NFKD", (text or "").translate(_LIGATURES))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return [w for w in _SEPARATORS.split(plain) if w]


def same_family_name(registry: str, claimed: str) -> bool:
    """Birth names equal once normalised; word boundaries ignored ("LE GALL" = "Le-Gall" = "LEGALL")."""
    a, b = "".join(words(registry)), "".join(words(claimed))
    return bool(a) and a == b


def given_names(text: str | None) -> list[list[str]]:
    """The voter's given names, each as its words: « Jean-Pierre, Marie » → ``[[jean, pierre], [marie]]``."""
    return [w for w in (words(name) for name in _NAME_SEPARATORS.split(text or "")) if w]


def first_name_among(registry_prenoms: str, claimed_given_names: tuple[str, ...]) -> bool:
    """FranceConnect's first given name is one of the voter's given names, as a whole name.

    A compound name is one name: « Angela » is not « Marie-Angela », « Jean » is not
    « Jean-Pierre ».  The registry may write a compound name with spaces (« Jean
    Pierre Marie » for « Jean-Pierre »): it matches when its words are those of
    whole given names side by side, never part of one.
    """
    if not claimed_given_names:
        return False
    wanted = words(claimed_given_names[0])
    if not wanted:
        return False
    names = given_names(registry_prenoms)
    for start in range(len(names)):
        joined: list[str] = []
        for name in names[start:]:
            joined += name
            if joined == wanted:
                return True
            if len(joined) >= len(wanted):
                break
    return False


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


def is_french_commune(code: str) -> bool:
    """An INSEE commune code (``99xxx`` codes name foreign countries, not communes)."""
    return bool(code) and not code.startswith("99")


def birth_mismatches(registry_place: str | None, claimed: Claimed) -> list[str]:
    """Birth place and country: ``[]`` when they agree or the registry has no code (not compared).

    Born in a French commune per the registry: FranceConnect must say France
    (``99100``) and the same commune.  Born abroad per the registry (``99xxx``): the
    same country.
    """
    registry = insee_code(registry_place)
    if not registry:
        return []
    country = (claimed.birthcountry or "").strip()
    if not is_french_commune(registry):
        return [] if country == registry else [BIRTH_COUNTRY]
    differ = [] if country == FRANCE else [BIRTH_COUNTRY]
    if not same_birthplace(registry, claimed.birthplace):
        differ.append(BIRTH_PLACE)
    return differ


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
    differ += birth_mismatches(voter.lieu_naissance, claimed)
    return differ
