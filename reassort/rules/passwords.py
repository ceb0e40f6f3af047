"""Password rules, NIST SP 800-63B style: length, no composition rules, no common ones."""

from __future__ import annotations

import functools
import os
import unicodedata

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "common-passwords.txt")


@functools.cache
def _common() -> frozenset[str]:
    with open(COMMON_FILE, encoding="utf-8") as fh:
        return frozenset(line.strip().casefold() for line in fh if line.strip() and not line.startswith("#"))


def problem(password: str) -> str | None:
    """The French reason ``password`` is refused, or ``None`` if it is acceptable."""
    password = unicodedata.normalize("NFC", password)
    if len(password) < MIN_LENGTH:
        return f"Le mot de passe doit compter au moins {MIN_LENGTH} caractères."
    if len(password) > MAX_LENGTH:
        return f"Le mot de passe ne peut dépasser {MAX_LENGTH} caractères."
    if password.casefold() in _common() or len(set(password)) < 4:
        return "Ce mot de passe est trop courant ou trop simple ; choisissez-en un autre (une phrase, par exemple)."
    return None
