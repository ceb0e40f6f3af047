"""Vote codes: 12 characters from an unambiguous alphabet, made with ``secrets``.

The alphabet leaves out I, O, l, o, 0 and 1 (which read alike on paper) and keeps
eleven special characters: 67 symbols, 12 × log2(67) ≈ 72.8 bits (SEC-28).
"""

from __future__ import annotations

import secrets
import string

UPPER = "".join(c for c in string.ascii_uppercase if c not in "IO")
LOWER = "".join(c for c in string.ascii_lowercase if c not in "lo")
DIGITS = "23456789"
SPECIAL = "!#$%&*+-=?@"
ALPHABET = UPPER + LOWER + DIGITS + SPECIAL
LENGTH = 12


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


def clean_entry(text: str) -> str:
    """Entry tolerates surrounding spaces only; the code is case-sensitive."""
    return text.strip()


def groups(code: str) -> list[str]:
    """The code in groups of four, as printed and displayed."""
    return [code[i:i + 4] for i in range(0, len(code), 4)]
