"""Text an SMS carries in the GSM 03.38 alphabet (7 bits: 160 characters a segment).

One character outside it (« — », « ê », « ç », « ’ ») turns the whole message into
UCS-2, 70 characters a segment: three or four paid segments instead of two.  The
election's title is the organiser's free text, so it goes through ``to_gsm7``.
"""

from __future__ import annotations

import unicodedata

#: The basic GSM 03.38 character set (the extension table, which costs two, is left out).
BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
SEGMENT = 160
#: A concatenated message spends 7 characters of each segment on its header.
MULTIPART_SEGMENT = 153

_REPLACEMENTS = {
    "’": "'", "‘": "'", "«": '"', "»": '"', "“": '"', "”": '"', "—": "-", "–": "-", "‑": "-",
    "…": "...", "œ": "oe", "Œ": "OE", "æ": "ae", "\u00a0": " ", "\u202f": " ", "•": "*",
}


def to_gsm7(text: str) -> str:
    """``text`` in the basic GSM alphabet: accents outside it dropped (ê → e), typographic
    marks replaced, anything else left out."""
    out = []
    for c in text:
        if c in BASIC:
            out.append(c)
        elif c in _REPLACEMENTS:
            out.append(_REPLACEMENTS[c])
        else:
            base = "".join(b for b in unicodedata.normalize("NFD", c) if not unicodedata.combining(b))
            out.append("".join(b for b in base if b in BASIC))
    return "".join(out)


def segments(text: str) -> int:
    """How many GSM-7 segments ``text`` takes (it must be GSM-7 already)."""
    if len(text) <= SEGMENT:
        return 1
    return -(-len(text) // MULTIPART_SEGMENT)
