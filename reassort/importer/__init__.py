"""Import of the voters' register from the CSV the IT team prepares (SPEC §3).

One pass over the file: each row is checked and turned into what is stored (the
e-mail lower-cased, keyed digests of the NUMEN and of the NIR's first 10
characters, never their clear values).  The first bad row stops the writing but
not the reading, so that every bad row is reported with its line number (the
header is line 1); any error rolls the whole import back.

Speed (SPEC §2, "a million voters import in seconds"): no ORM object per row; a
quick path checks the usual, clean rows; batches of 10,000 rows are written in
one transaction by a second thread (``BackgroundWriter``) while the next batch
is checked, with Core statements run by the driver itself (``DriverStatement``).

Re-importing updates the voters already known by ``identifiant`` (identity, e-mail,
digests, scrutins) and never touches what they made themselves (password,
question défi, vote code, counters).  Voters absent from the file are left alone.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gc
import hashlib
import io
import os
import queue
import re
import sqlite3
import threading
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any, Callable, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.procedures import audit
from reassort.rules.identifiers import NIR_RE, NUMEN_RE, nir_key_ok, parse_nir, parse_numen
from reassort.rules.tokens import fresh_generations
from reassort.storage.models import Scrutin, Voter

COLUMNS = ("identifiant", "nom", "prenoms", "date_naissance", "lieu_naissance",
           "email", "numen", "nir", "scrutins")
BATCH_SIZE = 10_000
# Bigger statements gain nothing and SQLite parses each one anew.
MAX_PARAMETERS_PER_STATEMENT = 32_000
# SQLite page cache of the import's connection (KiB): room for the voters' indexes.
IMPORT_CACHE_KIB = 64 * 1024
#: Errors kept in the report (all are counted): a wrong file would give one per row.
MAX_KEPT_ERRORS = 1000
NOT_UTF8 = "le fichier n'est pas encodé en UTF-8 : enregistrez-le en UTF-8 depuis votre tableur"

VOTERS = cast(Table, Voter.__table__)
SCRUTINS = cast(Table, Scrutin.__table__)
# Lengths of the columns (models.py): checked here so PostgreSQL never refuses a row.
MAX_IDENTIFIANT, MAX_NAME, MAX_EMAIL, MAX_SCRUTIN = 64, 200, 254, 200
EARLIEST_BIRTH = dt.date(1900, 1, 1)
# Any PostgreSQL advisory-lock key of our own: two imports never pick the same ids.
PG_IMPORT_LOCK = 0x52_45_41_53

# ASCII addresses as professional directories issue them; lower-cased beforehand.
EMAIL_RE = re.compile(
    r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
INSEE_RE = re.compile(r"^(?:[0-9]{5}|2[AB][0-9]{3})$")
ISO_DATE_RE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
FR_DATE_RE = re.compile(r"^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$")
# A spreadsheet reads a cell starting with one of these as a formula (CSV
# injection): names go into the notices file that is opened in Excel.
FORMULA_CHARS = "=+-@"
NO_PROBLEMS: list[str] = []  # shared by the accepted rows: never appended to
BLOCK = 64  # SHA-256 block size, for the HMAC key

# Counters of a new voter, given explicitly so that executemany has no default to compute.  The two
# generations come first and are drawn at random for each voter (``tokens.fresh_generations``, SEC-46):
# no link can be forged for a generation nobody knows; the others start at 0.
NEW_VOTER_COUNTERS = {"activation_generation": 0, "link_generation": 0, "link_window_start": 0,
                      "links_in_window": 0, "challenge_failures": 0, "challenge_locked_until": 0,
                      "challenge_lock_level": 0, "session_epoch": 0}
NEW_VOTER_ZEROS = tuple(NEW_VOTER_COUNTERS.values())[2:]
#: The stored columns an import sets, in the order of a checked row's values.
VOTER_FIELDS = ("identifiant", "nom", "prenoms", "date_naissance", "lieu_naissance", "email",
                "numen_digest", "nir_digest")
# A re-import: the imported fields of a known voter, then their scrutins replaced.
UPDATE_VOTER = (update(VOTERS).where(VOTERS.c.id == bindparam("b_id"))
                .values({name: bindparam("v_" + name) for name in VOTER_FIELDS}))
DELETE_SCRUTINS = delete(SCRUTINS).where(SCRUTINS.c.voter_id == bindparam("b_voter"))


@dataclass(frozen=True)
class RowError:
    """One problem of the file: its line (``None`` for the whole file) and why."""

    line: int | None
    message: str

    def __str__(self) -> str:
        return f"ligne {self.line} : {self.message}" if self.line else self.message


@dataclass
class ImportReport:
    """What an import did (or, with ``dry_run``, would do)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add_error(self, line: int | None, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(RowError(line, message))


class BadFile(Exception):
    """The file as a whole cannot be read (encoding, header, CSV syntax)."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def import_voters(session: Session, source: bytes | str | os.PathLike, pepper: str, *,
                  dry_run: bool = False, today: dt.date | None = None,
                  progress: Callable[[int], None] | None = None,
                  batch_size: int = BATCH_SIZE) -> ImportReport:
    """Import the CSV ``source`` (its bytes, or a path) into ``session``'s database.

    Commits when every row is valid (and not ``dry_run``), else rolls back: the
    database is left as it was.  ``progress(rows_read)`` is called now and then.
    ``OSError`` (missing file) is left to the caller.
    """
    report = ImportReport(dry_run=dry_run)
    today = today or dt.date.fromtimestamp(runtime.now())
    try:
        with _open_text(source) as stream, _no_cycle_collection():
            _import_stream(session, stream, pepper, report, today, progress, batch_size)
    except BadFile as exc:
        session.rollback()
        return ImportReport(rows=report.rows, errors=[RowError(exc.line, str(exc))], error_count=1,
                            dry_run=dry_run)
    except BaseException:
        session.rollback()
        raise
    if not report.ok:
        report.created = report.updated = 0
    return report


@contextlib.contextmanager
def _no_cycle_collection():
    """Pause the cyclic garbage collector: the import makes no cycles, but its
    millions of short-lived tuples would trigger a collection every few hundred
    rows (a fifth of the import's time, measured)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _open_text(source: bytes | str | os.PathLike) -> io.TextIOWrapper:
    """A text stream over the file; ``utf-8-sig`` drops the BOM Excel writes."""
    raw = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")
    # newline="" lets the csv module see the line ends (quoted fields may hold some).
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def _import_stream(session, stream, pepper, report, today, progress, batch_size) -> None:
    """Read, check and (unless dry run or in error) write every row, then commit or roll back."""
    try:
        header_line = stream.readline()
        delimiter = sniff_delimiter(header_line)
        pick = _header_picker(header_line, delimiter)
        reader = csv.reader(stream, delimiter=delimiter)
        conn = session.connection()
        if not report.dry_run:
            _lock_imports(conn)
        checker = RowChecker(*_known_voters(conn), pepper, today)
        if report.dry_run:
            _read_rows(reader, pick, checker, None, report, progress, batch_size)
        else:
            with BackgroundWriter(BatchWriter(conn, batch_size)) as writer:
                _read_rows(reader, pick, checker, writer, report, progress, batch_size)
                if report.ok:
                    writer.finish()
    except UnicodeDecodeError:
        raise BadFile(NOT_UTF8) from None
    if report.dry_run or not report.ok:
        session.rollback()
        return
    audit.record(session, "voters_imported", None, f"{report.created} créés, {report.updated} mis à jour")
    session.commit()


def _read_rows(reader, pick, checker, writer, report, progress, progress_every) -> None:
    """Check each data row; hand the valid ones to ``writer`` until the first error."""
    end_of_previous = 1  # the header line, read before the csv reader started
    width = len(COLUMNS)
    try:
        for fields in reader:
            # A record may span lines (quoted line breaks): it starts after the previous one.
            line, end_of_previous = end_of_previous + 1, reader.line_num + 1
            if not any(fields):
                continue  # blank lines and the empty rows spreadsheets leave at the end
            report.rows += 1
            if len(fields) != width:
                report.add_error(line, f"{width} colonnes attendues, {len(fields)} trouvées")
                continue
            row, problems = checker.check(pick(fields), line)
            if row is None:
                for problem in problems:
                    report.add_error(line, problem)
            elif writer is not None and not report.error_count:
                writer.add(row)
            if progress is not None and not report.rows % progress_every:
                progress(report.rows)
    except csv.Error as exc:
        raise BadFile(f"format CSV illisible ({exc})", end_of_previous + 1) from None
    report.created, report.updated = checker.created, checker.updated
    if progress is not None:
        progress(report.rows)


def sniff_delimiter(header_line: str) -> str:
    """``;`` or ``,``: whichever the header line uses (the header has no quoted separators)."""
    if not header_line.strip():
        raise BadFile("fichier vide : la ligne 1 doit être l'en-tête " + ";".join(COLUMNS), 1)
    return ";" if header_line.count(";") >= header_line.count(",") else ","


def _header_picker(header_line: str, delimiter: str) -> Callable[[list[str]], tuple]:
    """A function putting a row's fields in ``COLUMNS`` order, from the header's order."""
    try:
        names = [name.strip().lower() for name in next(csv.reader([header_line], delimiter=delimiter))]
    except csv.Error:
        names = []
    if not set(names) & set(COLUMNS):
        # Probably a data row: say what is expected without echoing its personal data.
        raise BadFile("en-tête absent ou illisible : la ligne 1 doit être " + ";".join(COLUMNS), 1)
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n or "(vide)" for n in names if n not in COLUMNS]
    doubled = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
    if missing or unknown or doubled:
        parts = [f"colonnes manquantes : {', '.join(missing)}" if missing else "",
                 f"colonnes inconnues : {', '.join(unknown)}" if unknown else "",
                 f"colonnes en double : {', '.join(doubled)}" if doubled else ""]
        raise BadFile("en-tête incorrect (" + " ; ".join(p for p in parts if p)
                      + ") ; attendu : " + ";".join(COLUMNS), 1)
    return itemgetter(*(names.index(c) for c in COLUMNS))


def _lock_imports(conn: Connection) -> None:
    """On PostgreSQL, one import at a time (ids are given here); SQLite has one writer anyway."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_IMPORT_LOCK})


def _known_voters(conn: Connection) -> tuple[dict[str, int], dict[str, str]]:
    """Voters already in the database: identifiant → id, and e-mail → identifiant."""
    known, owners = {}, {}
    for voter_id, identifiant, email in conn.execute(
            select(VOTERS.c.id, VOTERS.c.identifiant, VOTERS.c.email)):
        known[identifiant] = voter_id
        owners[email] = identifiant
    return known, owners


class KeyedDigest:
    """``hashing.digest(pepper, purpose, ·)`` with the key schedule done once.

    HMAC-SHA-256 (RFC 2104) written out with hashlib: the inner hash, already fed
    with the padded key and the purpose, and the outer one are copied per value.
    Twice as fast as ``hmac.HMAC.copy`` per row; ``test_keyed_digest_is_hashing_digest``
    holds it to the same result as ``hashing.digest``.
    """

    def __init__(self, pepper: str, purpose: str):
        key = pepper.encode()
        if len(key) > BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(BLOCK, b"\x00")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + purpose.encode() + b"\x00")
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __call__(self, value: str) -> str:
        inner = self._inner.copy()
        inner.update(value.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


class RowChecker:
    """Checks one row at a time against the rules and against the rows seen before.

    ``check`` first tries a quick path that only accepts rows in the usual,
    already clean form; anything else goes through ``_check_fully``, which applies
    the same rules field by field and says what is wrong.
    """

    def __init__(self, known: dict[str, int], owners: dict[str, str], pepper: str, today: dt.date):
        self.known, self.owners, self.today = known, owners, today
        # Same purposes as identifiers.numen_digest / nir_digest.
        self.numen_digest = KeyedDigest(pepper, "numen")
        self.nir_digest = KeyedDigest(pepper, "nir10")
        self.seen_ids: dict[str, int] = {}
        self.seen_emails: dict[str, int] = {}
        self.created = self.updated = 0  # valid rows, new voters / known ones

    def check(self, fields: tuple, line: int) -> tuple[tuple | None, list[str]]:
        """``((values, scrutins, voter_id), [])`` for a valid row, else ``(None, problems)``.

        ``values`` are the stored columns in ``VOTER_FIELDS`` order; ``voter_id`` is
        the id of the voter already known by this identifiant, else ``None``.
        """
        if "\x00" in "".join(fields):
            # PostgreSQL refuses NUL in text (the import stopped with a DataError); SQLite kept it.
            return None, ["caractère nul (octet 0) dans la ligne : fichier abîmé ou mal enregistré"]
        ident, nom, prenoms, born, place, email, numen, nir, scrutins = stripped = [f.strip() for f in fields]
        nom, prenoms, email = " ".join(nom.split()), " ".join(prenoms.split()), email.lower()
        names = [name.strip() for name in scrutins.split("|")] if "|" in scrutins else [scrutins]
        birth_date = parse_birth_date(born)
        owner = self.owners.get(email)
        if not (ident and nom and prenoms and birth_date and "" not in names
                and (len(names) == 1 or len(set(names)) == len(names))
                and len(ident) <= MAX_IDENTIFIANT and len(nom) <= MAX_NAME and len(prenoms) <= MAX_NAME
                and len(scrutins) <= MAX_SCRUTIN and len(email) <= MAX_EMAIL
                and ident[0] not in FORMULA_CHARS and nom[0] not in FORMULA_CHARS
                and prenoms[0] not in FORMULA_CHARS
                and EARLIEST_BIRTH <= birth_date < self.today
                and (not place or INSEE_RE.match(place)) and EMAIL_RE.match(email)
                and (numen or nir) and (not numen or NUMEN_RE.match(numen))
                and (not nir or (NIR_RE.match(nir) and nir_key_ok(nir)))
                and (owner is None or owner == ident)
                and self.seen_ids.setdefault(ident, line) == line
                and self.seen_emails.setdefault(email, line) == line):
            return self._check_fully(stripped, line)
        values = (ident, nom, prenoms, born if born[4:5] == "-" else birth_date.isoformat(), place or None,
                  email, self.numen_digest(numen) if numen else None,
                  self.nir_digest(nir[:10]) if nir else None)
        return self._accepted(values, names), NO_PROBLEMS

    def _accepted(self, values: tuple, names: list[str]) -> tuple:
        voter_id = self.known.get(values[0])
        if voter_id is None:
            self.created += 1
        else:
            self.updated += 1
        return values, names, voter_id

    def _check_fully(self, stripped: list[str], line: int) -> tuple[tuple | None, list[str]]:
        """Every rule, field by field: the row's values, or the list of its problems."""
        ident, nom, prenoms, born, place, email, numen, nir, scrutins = stripped
        problems: list[str] = []
        self._check_identifiant(ident, line, problems)
        nom = _check_name(nom, "nom", problems)
        prenoms = _check_name(prenoms, "prénoms", problems)
        birth_date = self._check_birth_date(born, problems)
        insee = _check_place(place, problems)
        email = self._check_email(email.lower(), ident, line, problems)
        numen_value, nir10 = _check_identity_numbers(numen, nir, problems)
        names = _check_scrutins(scrutins, problems)
        if problems:
            return None, problems
        values = (ident, nom, prenoms, birth_date, insee, email,
                  self.numen_digest(numen_value) if numen_value else None, self.nir_digest(nir10) if nir10 else None)
        return self._accepted(values, names), problems

    def _check_identifiant(self, ident: str, line: int, problems: list[str]) -> None:
        if not ident:
            problems.append("identifiant manquant")
            return
        if len(ident) > MAX_IDENTIFIANT:
            problems.append(f"identifiant trop long ({MAX_IDENTIFIANT} caractères au plus)")
        elif ident[0] in FORMULA_CHARS:
            problems.append("identifiant : ne doit pas commencer par =, +, - ou @")
        first = self.seen_ids.setdefault(ident, line)
        if first != line:
            problems.append(f"identifiant « {ident} » en double (déjà ligne {first})")

    def _check_birth_date(self, text: str, problems: list[str]) -> str | None:
        """The birth date as ISO text (what SQLite's Date type stores, and PostgreSQL casts)."""
        if not text:
            problems.append("date de naissance manquante")
            return None
        value = parse_birth_date(text)
        if value is None or not EARLIEST_BIRTH <= value < self.today:
            problems.append("date de naissance invalide (AAAA-MM-JJ ou JJ/MM/AAAA, date réelle passée)")
            return None
        return text if text[4:5] == "-" else value.isoformat()

    def _check_email(self, email: str, ident: str, line: int, problems: list[str]) -> str:
        if not email:
            problems.append("adresse électronique manquante")
            return email
        if len(email) > MAX_EMAIL or not EMAIL_RE.match(email):
            problems.append("adresse électronique invalide")
            return email
        first = self.seen_emails.setdefault(email, line)
        if first != line:
            problems.append(f"adresse électronique en double (déjà ligne {first})")
        owner = self.owners.get(email)
        if owner is not None and owner != ident:
            problems.append(f"adresse électronique déjà attribuée à l'électeur « {owner} » dans la base")
        return email


def parse_birth_date(text: str) -> dt.date | None:
    """A date written ``AAAA-MM-JJ`` or ``JJ/MM/AAAA`` (day and month may have one digit)."""
    try:
        if ISO_DATE_RE.match(text):
            return dt.date.fromisoformat(text)
        match = FR_DATE_RE.match(text)
        if match:
            day, month, year = match.groups()
            return dt.date(int(year), int(month), int(day))
    except ValueError:
        pass  # 31/02, month 13…
    return None


def _check_name(value: str, label: str, problems: list[str]) -> str:
    """A name with its inner spaces collapsed (tabs and line breaks included)."""
    value = " ".join(value.split())
    if 0 < len(value) <= MAX_NAME and value[0] not in FORMULA_CHARS:
        return value
    plural = "s" if label.endswith("s") else ""
    if not value:
        problems.append(f"{label} manquant{plural}")
    elif len(value) > MAX_NAME:
        problems.append(f"{label} trop long{plural} ({MAX_NAME} caractères au plus)")
    else:
        problems.append(f"{label} : ne doit pas commencer par =, +, - ou @")
    return value


def _check_place(value: str, problems: list[str]) -> str | None:
    """The INSEE code of the birth place, optional: 5 digits, or 2A/2B + 3 digits (Corsica)."""
    if not value:
        return None
    value = value.upper()
    if not INSEE_RE.match(value):
        problems.append("lieu de naissance : code INSEE de 5 caractères attendu (ex. 75056, 2A004)")
    return value


def _check_identity_numbers(numen: str, nir: str, problems: list[str]) -> tuple[str | None, str | None]:
    """The NUMEN and the NIR's first 10 characters, at least one of them, both checked."""
    if not numen and not nir:
        problems.append("ni NUMEN ni NIR : l'un des deux au moins est requis")
        return None, None
    # Fast paths for the usual compact forms; parse_* also drop spaces, dots and dashes.
    numen_value = (numen if NUMEN_RE.match(numen) else parse_numen(numen)) if numen else None
    if numen and numen_value is None:
        problems.append("NUMEN invalide (13 caractères, chiffres et lettres)")
    nir10 = (nir[:10] if NIR_RE.match(nir) and nir_key_ok(nir) else parse_nir(nir)) if nir else None
    if nir and nir10 is None:
        problems.append("NIR invalide (10, 13 ou 15 caractères ; clé de contrôle vérifiée sur 15)")
    return numen_value, nir10


def _check_scrutins(text: str, problems: list[str]) -> list[str]:
    """The scrutins' names, separated by ``|``, trimmed, empty pieces and repeats dropped."""
    names = [name.strip() for name in text.split("|")]
    if "" in names or (len(names) > 1 and len(set(names)) < len(names)):
        names = list(dict.fromkeys(name for name in names if name))
    if not names:
        problems.append("aucun scrutin (noms séparés par |)")
    elif len(text) > MAX_SCRUTIN and max(map(len, names)) > MAX_SCRUTIN:
        problems.append(f"nom de scrutin trop long ({MAX_SCRUTIN} caractères au plus)")
    return names


class DriverStatement:
    """A Core statement compiled once for the connection's dialect (positional
    placeholders) and run by the driver itself on rows given as tuples in
    ``names`` order.

    ``Connection.execute`` would build and process a parameter dict per row in
    Python — measured here at about as long as SQLite's own work.  The values
    given are already what the driver takes (dates as ISO text, which SQLite's
    Date type stores and PostgreSQL casts).  How rows go, by measure:

    - an INSERT on SQLite: multi-row ``VALUES`` statements of up to
      ``MAX_PARAMETERS_PER_STATEMENT`` parameters (SQLAlchemy's "insertmanyvalues"
      minus its per-value work), a quarter faster than ``executemany``;
    - an INSERT on PostgreSQL (psycopg): ``COPY … FROM STDIN``, about twice as
      fast as ``executemany`` even in pipeline mode;
    - anything else: the driver's ``executemany``.
    """

    def __init__(self, conn: Connection, statement, names: tuple[str, ...]):
        dialect = conn.dialect
        if not dialect.positional:  # psycopg takes %s as well as %(name)s
            dialect = type(dialect)(paramstyle="format")  # type: ignore[call-arg]
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        self.conn, self.sql = conn, str(compiled)
        order = [names.index(name) for name in compiled.positiontup]
        self._adapt = None if order == list(range(len(names))) else itemgetter(*order)
        self._run = self._executemany
        if statement.is_insert and self._adapt is None:
            if conn.dialect.name == "sqlite":
                self._prepare_multirow(len(names))
            elif conn.dialect.driver == "psycopg":
                quote = conn.dialect.identifier_preparer.quote
                self._copy_sql = (f"COPY {quote(statement.table.name)} "
                                  f"({', '.join(quote(name) for name in names)}) FROM STDIN")
                self._run = self._copy

    def run(self, rows: list[tuple]) -> None:
        if rows:
            self._run(rows)

    def _dbapi(self) -> Any:
        """The driver's own connection (sqlite3 or psycopg) under the SQLAlchemy one."""
        connection = self.conn.connection.dbapi_connection
        if connection is None:
            raise RuntimeError("connexion fermée")
        return connection

    def _executemany(self, rows: list[tuple]) -> None:
        if rows:
            self.conn.exec_driver_sql(self.sql, rows if self._adapt is None else list(map(self._adapt, rows)))

    def _prepare_multirow(self, width: int) -> None:
        head, values, group = self.sql.partition(" VALUES ")
        if group != "(" + ", ".join("?" * width) + ")":
            return  # not the plain single-row form: stay with executemany
        limit = self._dbapi().getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._rows_per_statement = max(1, min(limit, MAX_PARAMETERS_PER_STATEMENT) // width)
        self._multirow_sql = head + values + ", ".join([group] * self._rows_per_statement)
        self._run = self._multirow

    def _multirow(self, rows: list[tuple]) -> None:
        step = self._rows_per_statement
        full = len(rows) - len(rows) % step
        for start in range(0, full, step):
            self.conn.exec_driver_sql(self._multirow_sql, tuple(chain.from_iterable(rows[start:start + step])))
        # The rest row by row: a statement of another size would be one more big
        # prepared statement in the driver's cache, at every batch.
        self._executemany(rows[full:])

    def _copy(self, rows: list[tuple]) -> None:
        # The connection's own cursor: same transaction as everything else.
        with self._dbapi().cursor() as cursor, cursor.copy(self._copy_sql) as copy:
            for row in rows:
                copy.write_row(row)


class BatchWriter:
    """Writes batches of checked rows in the open transaction.

    New voters get their ids here (``max(id) + 1``…) so that their scrutins can be
    written in the same batch without reading ids back; on PostgreSQL an advisory
    lock (``_lock_imports``, taken before) keeps two imports from picking the same
    ids, and ``finish`` moves the sequence past them.  On SQLite the connection's
    page cache is enlarged for the import (the indexes of 100,000 voters stay in
    memory instead of spilling to the WAL before the commit), then restored.
    """

    def __init__(self, conn: Connection, batch_size: int = BATCH_SIZE):
        self.conn, self.batch_size = conn, batch_size
        self.next_id = (conn.execute(select(func.max(VOTERS.c.id))).scalar() or 0) + 1
        self.created = False
        self._insert_voters = DriverStatement(conn, insert(VOTERS).inline(),
                                              ("id",) + VOTER_FIELDS + tuple(NEW_VOTER_COUNTERS))
        self._update_voters = DriverStatement(conn, UPDATE_VOTER, tuple("v_" + f for f in VOTER_FIELDS) + ("b_id",))
        self._delete_scrutins = DriverStatement(conn, DELETE_SCRUTINS, ("b_voter",))
        self._insert_scrutins = DriverStatement(conn, insert(SCRUTINS).inline(), ("voter_id", "name"))
        self._cache_size = None
        if conn.dialect.name == "sqlite":
            self._cache_size = conn.exec_driver_sql("PRAGMA cache_size").scalar()
            conn.exec_driver_sql(f"PRAGMA cache_size = {-IMPORT_CACHE_KIB}")

    def write(self, rows: list[tuple]) -> None:
        """Write checked rows ``(values, scrutins, voter_id)``: voters first (the scrutins refer to them)."""
        new = [row for row in rows if row[2] is None]
        changed = [row for row in rows if row[2] is not None] if len(new) < len(rows) else []
        new_ids = list(zip(range(self.next_id, self.next_id + len(new)), new, strict=True))
        self.next_id += len(new)
        generations = iter(fresh_generations(2 * len(new_ids)))
        self._insert_voters.run([(voter_id,) + row[0] + (next(generations), next(generations)) + NEW_VOTER_ZEROS
                                 for voter_id, row in new_ids])
        self.created = self.created or bool(new)
        if changed:
            self._update_voters.run([row[0] + (row[2],) for row in changed])
            # A re-import replaces the voter's scrutins by those of the file.
            self._delete_scrutins.run([(row[2],) for row in changed])
        self._insert_scrutins.run([(voter_id, name) for voter_id, row in new_ids for name in row[1]]
                                  + [(row[2], name) for row in changed for name in row[1]])

    def finish(self) -> None:
        """On PostgreSQL, move the id sequence past the ids given."""
        if self.conn.dialect.name == "postgresql" and self.created:
            self.conn.execute(text(
                "SELECT setval(pg_get_serial_sequence('voters', 'id'), (SELECT max(id) FROM voters))"))

    def release(self) -> None:
        """Give the connection its page cache back (it returns to the pool)."""
        if self._cache_size is not None:
            self.conn.exec_driver_sql(f"PRAGMA cache_size = {int(self._cache_size)}")


class BackgroundWriter:
    """Hands full batches to a second thread, which writes them while the next ones are checked.

    SQLite runs each multi-row statement without holding the GIL (and psycopg
    waits for the server without it), so on two cores the checking and the
    writing overlap.  The queue holds one batch: memory stays flat.  Only the
    writer thread uses the connection until ``finish`` or the end of the ``with``
    block has joined it; an error there is raised again in the reading thread.
    """

    def __init__(self, writer: BatchWriter):
        self.writer = writer
        self._batches: queue.Queue = queue.Queue(maxsize=1)
        self._pending: list[tuple] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write_batches, name="voters-import-writer", daemon=True)

    def __enter__(self) -> BackgroundWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._join()
        self.writer.release()

    def add(self, row: tuple) -> None:
        """Buffer one checked row; hand the batch over when it is full."""
        self._pending.append(row)
        if len(self._pending) >= self.writer.batch_size:
            self._hand_over()

    def finish(self) -> None:
        """Write what is left and wait for it; then the writer's own last step."""
        self._hand_over()
        self._join()
        if self._error is not None:
            raise self._error
        self.writer.finish()

    def _hand_over(self) -> None:
        if self._error is not None:
            raise self._error
        if self._pending:
            self._batches.put(self._pending)
            self._pending = []

    def _join(self) -> None:
        if self._thread.is_alive():
            self._batches.put(None)
            self._thread.join()

    def _write_batches(self) -> None:
        while (batch := self._batches.get()) is not None:
            if self._error is None:  # after an error, only drain: the reader stops soon
                try:
                    self.writer.write(batch)
                except BaseException as exc:  # noqa: BLE001 - raised again in the reading thread
                    self._error = exc
