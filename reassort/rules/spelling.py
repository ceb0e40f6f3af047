"""The vote code spelled out for screen readers, one character at a time."""

NAMES = {
    "!": "point d'exclamation", "#": "dièse", "$": "dollar", "%": "pour cent", "&": "esperluette",
    "*": "astérisque", "+": "plus", "-": "tiret", "=": "égal", "?": "point d'interrogation", "@": "arobase",
}


def spell_char(c: str) -> str:
    if c.isdigit():
        return c
    if c.isalpha():
        return f"{c.upper()} majuscule" if c.isupper() else f"{c} minuscule"
    return NAMES.get(c, c)


def spell(code: str) -> str:
    """``"A majuscule, b minuscule, 3, dièse, …"``."""
    return ", ".join(spell_char(c) for c in code)
