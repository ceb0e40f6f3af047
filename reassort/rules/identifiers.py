"""NUMEN and NIR: told apart by their shape, normalised, turned into keyed digests.

NUMEN: 13 characters, letters and digits (e.g. ``12E1234567ABC``).
NIR (n° de sécurité sociale): sex digit (1 or 2; 7 or 8 for temporary numbers), year, month, département (``2A``/``2B``
for Corsica), commune, order number, then an optional 2-digit key: 13 or 15
characters; the réassort form asks only for its first 10.
"""

from __future__ import annotations

import re

from reassort.rules.hashing import digest

NUMEN_RE = re.compile(r"^(?=.*[A-Z])[0-9A-Z]{13}$")
NIR10_RE = re.compile(r"^[1278]\d{2}(0[1-9]|1[0-2]|[2-9]\d)(\d{2}|2[AB])\d{3}$")
NIR_RE = re.compile(r"^[1278]\d{2}(0[1-9]|1[0-2]|[2-9]\d)(\d{2}|2[AB])\d{6}(\d{2})?$")


def compact(text: str) -> str:
    """Upper-case, without spaces, dots or dashes (as people type them)."""
    return re.sub(r"[\s.\-]", "", text or "").upper()


def nir_key_ok(nir: str) -> bool:
    """The 2-digit key of a 15-character NIR (Corsica: 2A → 19, 2B → 18)."""
    if len(nir) != 15:
        return True
    body = nir[:13].replace("2A", "19", 1) if nir[5:7] == "2A" else nir[:13]
    body = body.replace("2B", "18", 1) if nir[5:7] == "2B" else body
    return 97 - int(body) % 97 == int(nir[13:])


def parse_nir(text: str) -> str | None:
    """The first 10 characters of a NIR of 10, 13 or 15 characters, else ``None``."""
    # Already compact (the usual form of a register): no rewriting.
    if NIR_RE.fullmatch(text) and nir_key_ok(text):
        return text[:10]
    if NIR10_RE.fullmatch(text):
        return text
    value = compact(text)
    if len(value) == 10 and NIR10_RE.match(value):
        return value
    if len(value) in (13, 15) and NIR_RE.match(value) and nir_key_ok(value):
        return value[:10]
    return None


def parse_numen(text: str) -> str | None:
    """The NUMEN in upper case without separators, else ``None``."""
    if NUMEN_RE.fullmatch(text):
        return text  # already compact: no rewriting
    value = compact(text)
    return value if NUMEN_RE.match(value) else None


def classify(text: str) -> tuple[str, str] | None:
    """``("nir", first10)`` or ``("numen", value)`` from what the voter typed, else ``None``."""
    value = compact(text)
    if len(value) == 10:
        nir = parse_nir(value)
        return ("nir", nir) if nir else None
    numen = parse_numen(value)
    return ("numen", numen) if numen else None


#: Purposes of the keyed digests of the NUMEN and of the NIR's first 10 characters.
NUMEN_PURPOSE = "numen"
NIR_PURPOSE = "nir10"


def numen_digest(pepper: str, numen: str) -> str:
    return digest(pepper, NUMEN_PURPOSE, numen)


def nir_digest(pepper: str, nir10: str) -> str:
    return digest(pepper, NIR_PURPOSE, nir10)
