"""The row rules of the voters' register: ONE table, used by every path of the import.

``TABLE`` says, column by column, how a cell is cleaned and what makes it wrong
(empty, too long, starting like a spreadsheet formula, not of its shape), and
what is stored (the value, or its keyed digest for NUMEN and NIR); ``ROW_RULES``
say what concerns several columns.  ``RowChecker`` applies the table as it is,
whatever the size of the file or the process it runs in (``checking``), and
``tests/test_fuzz_import.py`` holds it to an oracle written from the table.

Shapes and lengths are not written here: they come from the pure rules
(``reassort.rules.register``, ``reassort.rules.identifiers``) and from the
columns of the models.  Rules across rows (an identifiant or an address twice in
the file, an address held by another voter) are the importer's
(``reassort.importer``): they need every row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Sequence, cast

from sqlalchemy import Table

from reassort.rules import identifiers, register
from reassort.rules.hashing import KeyedDigest
from reassort.storage.models import Scrutin, Voter

VOTERS = cast(Table, Voter.__table__)
SCRUTINS = cast(Table, Scrutin.__table__)


def _length(table: Table, column: str) -> int:
    """The length of a ``String`` column of the models: what PostgreSQL would refuse beyond."""
    return int(table.c[column].type.length)  # type: ignore[attr-defined]


# -- how cells are cleaned ----------------------------------------------------------------

def collapse_spaces(text: str) -> str:
    """Inner runs of spaces, tabs and line breaks become one space; none at the ends."""
    return " ".join(text.split())


def upper_stripped(text: str) -> str:
    return text.strip().upper()


def lower_stripped(text: str) -> str:
    return text.strip().lower()


def scrutin_names(text: str) -> list[str]:
    """The names separated by ``|``, trimmed, empty pieces and repeats dropped (order kept)."""
    names = [name.strip() for name in text.split("|")]
    if "" in names or (len(names) > 1 and len(set(names)) < len(names)):
        names = list(dict.fromkeys(name for name in names if name))
    return names


# -- how cells are read (``None``: not of the shape) --------------------------------------

def birth_date(text: str, today: dt.date) -> str | None:
    return register.birth_date(text, today)


def insee_code(text: str, today: dt.date) -> str | None:
    return register.insee_code(text)


def professional_email(text: str, today: dt.date) -> str | None:
    return register.professional_email(text)


def numen(text: str, today: dt.date) -> str | None:
    return identifiers.parse_numen(text)


def nir_first_10(text: str, today: dt.date) -> str | None:
    return identifiers.parse_nir(text)


@dataclass(frozen=True)
class Column:
    """One column of the file and its rules, checked in this order; the first broken one is reported."""

    name: str                      # in the header
    missing: str | None            # message when the cell is empty; ``None``: optional
    clean: Callable[[str], Any]    # applied first; every rule reads the cleaned value
    max_length: int | None = None  # of the cleaned value (of each piece with ``many``)
    too_long: str = ""             # message start, « (N caractères au plus) » follows
    no_formula: bool = False       # refused when it starts with one of ``FORMULA_CHARS``
    label: str = ""                # in the formula message
    parse: Callable[[str, dt.date], Any] | None = None  # value stored, or ``None`` when invalid
    invalid: str = ""              # message when ``parse`` gives ``None``
    many: bool = False             # the cleaned value is a list: the rules apply to each piece
    digest: str | None = None      # purpose of the keyed digest stored instead of the value

    @property
    def too_long_message(self) -> str:
        return f"{self.too_long} ({self.max_length} caractères au plus)"

    @property
    def formula_message(self) -> str:
        return f"{self.label} : ne doit pas commencer par {', '.join(register.FORMULA_CHARS[:-1])} " \
               f"ou {register.FORMULA_CHARS[-1]}"


@dataclass(frozen=True)
class RowRule:
    """A rule over several columns: at least one of ``any_of`` is filled."""

    any_of: tuple[str, ...]
    message: str


TABLE: tuple[Column, ...] = (
    Column("identifiant", "identifiant manquant", str.strip, _length(VOTERS, "identifiant"), "identifiant trop long",
           no_formula=True, label="identifiant"),
    Column("nom", "nom manquant", collapse_spaces, _length(VOTERS, "nom"), "nom trop long",
           no_formula=True, label="nom"),
    Column("prenoms", "prénoms manquants", collapse_spaces, _length(VOTERS, "prenoms"), "prénoms trop longs",
           no_formula=True, label="prénoms"),
    Column("date_naissance", "date de naissance manquante", str.strip, parse=birth_date,
           invalid="date de naissance invalide (AAAA-MM-JJ ou JJ/MM/AAAA, date réelle passée)"),
    Column("lieu_naissance", None, upper_stripped, parse=insee_code,
           invalid="lieu de naissance : code INSEE de 5 caractères attendu (ex. 75056, 2A004)"),
    Column("email", "adresse électronique manquante", lower_stripped, _length(VOTERS, "email"),
           "adresse électronique trop longue", parse=professional_email, invalid="adresse électronique invalide"),
    Column("numen", None, str.strip, parse=numen, invalid="NUMEN invalide (13 caractères, chiffres et lettres)",
           digest=identifiers.NUMEN_PURPOSE),
    Column("nir", None, str.strip, parse=nir_first_10,
           invalid="NIR invalide (10, 13 ou 15 caractères ; clé de contrôle vérifiée sur 15)",
           digest=identifiers.NIR_PURPOSE),
    Column("scrutins", "aucun scrutin (noms séparés par |)", scrutin_names, _length(SCRUTINS, "name"),
           "nom de scrutin trop long", many=True),
)
ROW_RULES: tuple[RowRule, ...] = (
    RowRule(("numen", "nir"), "ni NUMEN ni NIR : l'un des deux au moins est requis"),
)
#: The header names, in the order of ``TABLE`` (any order is accepted in the file).
COLUMNS = tuple(column.name for column in TABLE)
#: Rules on the row as a whole, checked before the table (they stop there).
NUL_IN_ROW = "caractère nul (octet 0) dans la ligne : fichier abîmé ou mal enregistré"


def width_message(found: int) -> str:
    return f"{len(COLUMNS)} colonnes attendues, {found} trouvées"


def _compile(column: Column, today: dt.date) -> Callable[[str], tuple[Any, str | None]]:
    """The column's rules as one function ``raw cell → (stored value, problem or None)``.

    Generic over the table (the same code for every column): only what the
    column declares is checked, in ``Column``'s order.
    """
    clean, missing, parse = column.clean, column.missing, column.parse
    formula = register.FORMULA_CHARS if column.no_formula else ""
    too_long, formula_message, invalid = column.too_long_message, column.formula_message, column.invalid
    limit = column.max_length if column.max_length is not None else -1  # -1: no limit

    if column.many:
        def check_pieces(raw: str) -> tuple[Any, str | None]:
            values = clean(raw)
            if not values:
                return None, missing
            for value in values:
                if limit >= 0 and len(value) > limit:
                    return None, too_long
                if formula and value[0] in formula:
                    return None, formula_message
            return values, None
        return check_pieces

    def check_cell(raw: str) -> tuple[Any, str | None]:
        value = clean(raw)
        if not value:
            return None, missing
        if limit >= 0 and len(value) > limit:
            return None, too_long
        if formula and value[0] in formula:
            return None, formula_message
        if parse is None:
            return value, None
        parsed = parse(value, today)
        return (parsed, None) if parsed is not None else (None, invalid)
    return check_cell


class RowChecker:
    """Applies ``TABLE`` and ``ROW_RULES`` to rows whose cells are in ``COLUMNS`` order."""

    def __init__(self, today: dt.date, pepper: str):
        self.today = today
        self._checks = tuple(_compile(column, today) for column in TABLE)
        self._digests = tuple((i, KeyedDigest(pepper, column.digest)) for i, column in enumerate(TABLE)
                              if column.digest)
        self._row_rules = tuple((tuple(COLUMNS.index(name) for name in rule.any_of), rule.message)
                                for rule in ROW_RULES)

    def check(self, cells: Sequence[str]) -> tuple[list, list[str]]:
        """``(values, problems)``: the row is valid when ``problems`` is empty.

        ``values`` are in TABLE order: the cleaned cell, its parsed form or its
        keyed digest (``digest`` columns, valid rows only), a list for ``many``,
        ``None`` for an empty optional cell or a cell that broke a rule — so that
        the rules across rows can still use the identifiant and the address of an
        otherwise wrong row.
        """
        if "\x00" in "".join(cells):
            # PostgreSQL refuses NUL in text (the import stopped with a DataError); SQLite kept it.
            return [None] * len(COLUMNS), [NUL_IN_ROW]
        values: list = []
        problems: list[str] = []
        for check, raw in zip(self._checks, cells, strict=True):
            value, problem = check(raw)
            if problem:
                problems.append(problem)
            values.append(value)
        for positions, message in self._row_rules:
            for i in positions:
                if values[i] is not None or TABLE[i].clean(cells[i]):
                    break  # filled (valid or not)
            else:
                problems.append(message)
        if not problems:
            for i, digest in self._digests:
                if values[i] is not None:
                    values[i] = digest(values[i])
        return values, problems


IDENT, EMAIL = COLUMNS.index("identifiant"), COLUMNS.index("email")
