"""Batched writes of checked rows: SQLite multi-row ``INSERT``, PostgreSQL ``COPY``.

``Encoder`` runs where the rows are checked (a worker process): it turns each
valid row into what the driver takes as it is — for SQLite the flat list of a
multi-row statement's parameters, for PostgreSQL the text of ``COPY … FROM
STDIN`` — so that the importer's own process has nothing left to do per row but
hand the batch to the driver (``BulkInsert``).  How rows go, by measure: a
multi-row ``VALUES`` of ``ROWS_PER_STATEMENT`` rows on SQLite (a quarter faster
than ``executemany``), ``COPY`` on PostgreSQL (about twice as fast as
``executemany`` even in pipeline mode).

Two targets: ``voters`` (a first import, into an empty register: straight into
the tables, ids given from the line numbers) and ``staging`` (a re-import: into
temporary tables first, see ``reimport``).
"""

from __future__ import annotations

import sqlite3
from typing import Any, cast

from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection

from reassort.rules.tokens import fresh_generations
from reassort.storage.models import Voter

VOTERS = cast(Table, Voter.__table__)
#: The stored columns an import sets, in the order of a checked row's first values.
VOTER_FIELDS = ("identifiant", "nom", "prenoms", "date_naissance", "lieu_naissance", "email",
                "numen_digest", "nir_digest")
# Counters of a new voter, given explicitly so that no default is computed per row.  The two
# generations come first and are drawn at random for each voter (``tokens.fresh_generations``,
# SEC-46): no link can be forged for a generation nobody knows; the others start at 0.
NEW_VOTER_COUNTERS = {"activation_generation": 0, "link_generation": 0, "link_window_start": 0,
                      "links_in_window": 0, "challenge_failures": 0, "challenge_locked_until": 0,
                      "challenge_lock_level": 0, "session_epoch": 0}
GENERATIONS = ("activation_generation", "link_generation")
NEW_VOTER_ZEROS = list(NEW_VOTER_COUNTERS.values())[len(GENERATIONS):]
_ZEROS_TEXT = "\t0" * len(NEW_VOTER_ZEROS)
COLUMNS = {
    "voters": (("voters", ("id",) + VOTER_FIELDS + tuple(NEW_VOTER_COUNTERS)), ("scrutins", ("voter_id", "name"))),
    "staging": (("import_rows", ("line",) + VOTER_FIELDS), ("import_scrutins", ("line", "position", "name"))),
}
# Rows per multi-row statement: beyond a few dozen, bigger statements gain nothing (measured);
# the rest of a batch (fewer rows) goes through executemany.
ROWS_PER_STATEMENT = 256
# SQLite page cache of the import's connection (KiB): room for the voters' indexes.
IMPORT_CACHE_KIB = 128 * 1024
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def voter_id_of_line(first_id: int, line: int) -> int:
    """A new voter's id: the first row (line 2) gets ``first_id``, each line after it one more.

    Given here rather than by the database, so that the scrutins of a batch are
    written with it without reading ids back; unique since lines are.  Blank lines
    and known voters leave gaps, which mean nothing.
    """
    return first_id + line - 2


class Encoder:
    """Collects the valid rows of one chunk in the form the writer sends as it is."""

    def __init__(self, dialect: str, target: str, first_id: int):
        self.copy = dialect == "postgresql"
        self.staging = target == "staging"
        self.first_id = first_id
        self.voters: list = []
        self.scrutins: list = []
        self.count = 0
        self._pool: list[int] = []

    def add(self, line: int, values: list) -> None:
        """One checked row: ``rows.RowChecker`` values (the scrutins last)."""
        self.count += 1
        names = values[-1]
        key = line if self.staging else voter_id_of_line(self.first_id, line)
        if self.copy:
            self._add_copy_text(key, values[:-1], names)
            return
        self.voters.append(key)
        self.voters.extend(values[:-1])
        if self.staging:
            for i, name in enumerate(names):
                self.scrutins += (key, i, name)
        else:
            self.voters.extend(self._generations())
            self.voters.extend(NEW_VOTER_ZEROS)
            for name in names:
                self.scrutins += (key, name)

    def _generations(self) -> list[int]:
        """A new voter's two random generations (drawn a thousand voters at a time)."""
        if len(self._pool) < 2:
            self._pool = fresh_generations(2048)
        return [self._pool.pop(), self._pool.pop()]

    def _add_copy_text(self, key: int, fields: list, names: list[str]) -> None:
        """``COPY`` text lines; fields are escaped only when one holds a tab, a line end or a backslash."""
        plain = "\t".join([v or "" for v in fields])
        if plain.count("\t") != len(fields) - 1 or _needs_escape(plain):
            line = "\t".join(_copy_field(v) for v in fields)
        else:
            line = "\t".join(["\\N" if v is None else v for v in fields])
        if self.staging:
            tail = ""
        else:
            activation, link = self._generations()
            tail = f"\t{activation}\t{link}{_ZEROS_TEXT}"
        self.voters.append(f"{key}\t{line}{tail}\n")
        for i, name in enumerate(names):
            if "\t" in name or _needs_escape(name):
                name = _copy_field(name)
            self.scrutins.append(f"{key}\t{i}\t{name}\n" if self.staging else f"{key}\t{name}\n")

    def payload(self) -> tuple[Any, Any, int]:
        """``(voters, scrutins, rows)``: flat parameter lists (SQLite) or ``COPY`` text (PostgreSQL)."""
        if self.copy:
            return "".join(self.voters), "".join(self.scrutins), self.count
        return self.voters, self.scrutins, self.count


def _needs_escape(text: str) -> bool:
    return "\\" in text or "\n" in text or "\r" in text


def _copy_field(value: Any) -> str:
    return "\\N" if value is None else str(value).translate(_COPY_ESCAPES)


class BulkInsert:
    """``INSERT`` of many rows into one table: what ``Encoder`` made, sent as it is."""

    def __init__(self, conn: Connection, table: str, columns: tuple[str, ...]):
        self.conn, self.width = conn, len(columns)
        quote = conn.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        if conn.dialect.name == "sqlite":
            limit = self._dbapi().getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
            self.rows_per_statement = max(1, min(limit // self.width, ROWS_PER_STATEMENT))
            group = "(" + ", ".join("?" * self.width) + ")"
            # Only quoted names of our own tables and "?" marks: the values go as parameters.
            self.single_sql = f"INSERT INTO {quote(table)} ({names}) VALUES {group}"  # noqa: S608  # nosec B608
            self.multi_sql = self.single_sql + (", " + group) * (self.rows_per_statement - 1)
        elif conn.dialect.driver == "psycopg":
            self.copy_sql = f"COPY {quote(table)} ({names}) FROM STDIN"
        else:
            raise RuntimeError(f"base de données non prise en charge par l'import : {conn.dialect.name}")

    def _dbapi(self) -> Any:
        """The driver's own connection (sqlite3 or psycopg) under the SQLAlchemy one."""
        connection = self.conn.connection.dbapi_connection
        if connection is None:
            raise RuntimeError("connexion fermée")
        return connection

    def write(self, data: Any) -> None:
        if not data:
            return
        if isinstance(data, str):
            # The connection's own cursor: same transaction as everything else.
            with self._dbapi().cursor() as cursor, cursor.copy(self.copy_sql) as copy:
                copy.write(data)
            return
        # The driver's own cursor, in the connection's transaction: SQLAlchemy's per-statement
        # work (and its reading a flat list as many rows) is not needed here.
        cursor = self._dbapi().cursor()
        try:
            step = self.rows_per_statement * self.width
            full = len(data) - len(data) % step
            for start in range(0, full, step):
                cursor.execute(self.multi_sql, data[start:start + step])
            # The rest row by row: a statement of another size would be one more big
            # prepared statement in the driver's cache, at every batch.
            rest = iter(data[full:])
            cursor.executemany(self.single_sql, zip(*[rest] * self.width, strict=True))
        finally:
            cursor.close()


class Writer:
    """Writes the payloads of ``Encoder`` for one target, in the open transaction.

    On SQLite the connection's page cache is enlarged for the import (the indexes
    of 100,000 voters stay in memory instead of spilling to the WAL before the
    commit), then restored by ``release``.
    """

    def __init__(self, conn: Connection, target: str):
        self.conn = conn
        (rows_table, rows_columns), (scrutins_table, scrutins_columns) = COLUMNS[target]
        self._rows = BulkInsert(conn, rows_table, rows_columns)
        self._scrutins = BulkInsert(conn, scrutins_table, scrutins_columns)
        self._cache_size = None
        if conn.dialect.name == "sqlite":
            self._cache_size = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            conn.exec_driver_sql(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")

    def write(self, payload: tuple[Any, Any, int]) -> None:
        """Rows first (the scrutins refer to them)."""
        rows, scrutins, _count = payload
        self._rows.write(rows)
        self._scrutins.write(scrutins)

    def release(self) -> None:
        """Give the connection its page cache back (it returns to the pool)."""
        if self._cache_size is not None:
            self.conn.exec_driver_sql(f"PRAGMA cache_size = {int(self._cache_size)}")


def next_voter_id(conn: Connection) -> int:
    return (conn.execute(select(func.max(VOTERS.c.id))).scalar() or 0) + 1


def move_sequence_past_ids(conn: Connection) -> None:
    """On PostgreSQL, the id sequence after the ids the import gave (a voter added later gets a fresh one)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT setval(pg_get_serial_sequence('voters', 'id'), "
                          "GREATEST((SELECT max(id) FROM voters), 1))"))


