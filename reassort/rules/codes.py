"""Vote codes: 12 characters from an unambiguous alphabet, made with ``secrets``.

The alphabet leaves out I, O, l, o, 0 and 1 (which read alike on paper) and keeps
ten special characters — no ``-``, which reads as a separator between the groups
the code is shown in: 66 symbols, 12 × log2(66) ≈ 72.5 bits (SEC-28).  Codes are
shown and printed in groups of four; entry ignores every space, so a code typed
the way it is shown is accepted.  Codes issued before the ``-`` left the alphabet
keep working: only digests are compared, and a ``-`` typed is kept.
"""

from __future__ import annotations

import secrets
import string
import unicodedata

UPPER = "".join(c for c in string.ascii_uppercase if c not in "IO")
LOWER = "".join(c for c in string.ascii_lowercase if c not in "lo")
DIGITS = "23456789"
SPECIAL = "!#$%&*+=?@"
ALPHABET = UPPER + LOWER + DIGITS + SPECIAL
LENGTH = 12
GROUP = 4


# Bytes at or above this bound are dropped so that ``byte % len(ALPHABET)`` stays uniform.
_BOUND = 256 - 256 % len(ALPHABET)


def _draw(n: int) -> str:
    """``n`` uniform characters of the alphabet from one ``secrets`` call (rejection sampling).

    One ``token_bytes`` call instead of a ``secrets.choice`` per character: a
    million codes are issued in seconds rather than minutes.
    """
    chars: list[str] = []
    while len(chars) < n:
        chars.extend(ALPHABET[b % len(ALPHABET)] for b in secrets.token_bytes(2 * n) if b < _BOUND)
    return "".join(chars[:n])


def generate() -> str:
    """A new vote code with at least one upper, lower, digit and special character."""
    while True:
        code = _draw(LENGTH)
        if (any(c in UPPER for c in code) and any(c in LOWER for c in code)
                and any(c in DIGITS for c in code) and any(c in SPECIAL for c in code)):
            return code


def _is_blank(c: str) -> bool:
    # Every space (U+0020, no-break U+00A0, narrow no-break U+202F, thin, figure…), line
    # breaks, tabs, and the invisible joiners a copy from a PDF or a phone may carry.
    return c.isspace() or unicodedata.category(c) in ("Zs", "Zl", "Zp", "Cf")


def clean_entry(text: str) -> str:
    """The code as typed, without any space (inside too); the code stays case-sensitive."""
    return "".join(c for c in text if not _is_blank(c))


def groups(code: str) -> list[str]:
    """The code in groups of four, as printed and displayed."""
    return [code[i:i + GROUP] for i in range(0, len(code), GROUP)]


def printed(code: str) -> str:
    """The code as the notices print it: groups of four separated by a space (``Nzrx sS!b EL8x``).

    A plain space: every mail-merge tool keeps it, and entry ignores it anyway.
    """
    return " ".join(groups(code))
