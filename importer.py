"""Import of the voters' register from the CSV the IT team prepares (SPEC §3).

One pass over the file: each row is checked and turned into what is stored (the
e-mail lower-cased, keyed digests of the NUMEN and of the NIR's first 10
characters, never their clear values), then written in large batches with Core
``executemany`` inside one transaction — no ORM object per row, so 100,000 voters
take about a second on SQLite.  The first bad row stops the writing but not the
reading, so that every bad row is reported with its line number (the header is
line 1); any error rolls the whole import back.

Re-importing updates the voters already known by ``identifiant`` (identity, e-mail,
digests, scrutins) and never touches what they made themselves (password,
question défi, vote code, counters).  Voters absent from the file are left alone.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import os
import re
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Callable

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

import audit
import clock
from identifiers import parse_nir, parse_numen
from models import Scrutin, Voter

COLUMNS = ("identifiant", "nom", "prenoms", "date_naissance", "lieu_naissance",
           "email", "numen", "nir", "scrutins")
BATCH_SIZE = 10_000
#: Errors kept in the report (all are counted): a wrong file would give one per row.
MAX_KEPT_ERRORS = 1000
NOT_UTF8 = "le fichier n'est pas encodé en UTF-8 : enregistrez-le en UTF-8 depuis votre tableur"

VOTERS = Voter.__table__
SCRUTINS = Scrutin.__table__
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
FORMULA_START = ("=", "+", "-", "@")

# Counters of a new voter, given explicitly so that executemany has no default to compute.
NEW_VOTER_COUNTERS = {"activation_generation": 0, "link_generation": 0, "link_window_start": 0,
                      "links_in_window": 0, "challenge_failures": 0, "challenge_locked_until": 0,
                      "session_epoch": 0}
IMPORTED_FIELDS = ("identifiant", "nom", "prenoms", "date_naissance", "lieu_naissance", "email",
                   "numen_digest", "nir_digest")


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


@dataclass
class CheckedRow:
    """A valid row: the voter's stored values, its scrutins, its id when known."""

    values: dict
    scrutins: list[str]
    voter_id: int | None


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
    today = today or dt.date.fromtimestamp(clock.now())
    try:
        with _open_text(source) as stream:
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
        conn = session.connection()
        if not report.dry_run:
            _lock_imports(conn)
        known, owners = _known_voters(conn)
        checker = RowChecker(known, owners, pepper, today)
        writer = None if report.dry_run else BatchWriter(conn, batch_size)
        _read_rows(csv.reader(stream, delimiter=delimiter), pick, checker, writer, report,
                   progress, batch_size)
    except UnicodeDecodeError:
        raise BadFile(NOT_UTF8) from None
    if report.dry_run or not report.ok:
        session.rollback()
        return
    writer.finish()
    audit.record(session, "voters_imported", None, f"{report.created} créés, {report.updated} mis à jour")
    session.commit()


def _read_rows(reader, pick, checker, writer, report, progress, progress_every) -> None:
    """Check each data row; hand the valid ones to ``writer`` until the first error."""
    end_of_previous = 1  # the header line, read before the csv reader started
    try:
        for fields in reader:
            # A record may span lines (quoted line breaks): it starts after the previous one.
            line, end_of_previous = end_of_previous + 1, reader.line_num + 1
            if not "".join(fields).strip():
                continue  # blank lines and the empty rows spreadsheets leave at the end
            report.rows += 1
            if len(fields) != len(COLUMNS):
                report.add_error(line, f"{len(COLUMNS)} colonnes attendues, {len(fields)} trouvées")
                continue
            row, problems = checker.check(pick(fields), line)
            for problem in problems:
                report.add_error(line, problem)
            if row is None:
                continue
            if row.voter_id is None:
                report.created += 1
            else:
                report.updated += 1
            if writer is not None and report.ok:
                writer.add(row)
            if progress is not None and report.rows % progress_every == 0:
                progress(report.rows)
    except csv.Error as exc:
        raise BadFile(f"format CSV illisible ({exc})", end_of_previous + 1) from None
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
    """``hashing.digest(pepper, purpose, ·)`` with the HMAC key set up once (per-row speed)."""

    def __init__(self, pepper: str, purpose: str):
        self._base = hmac.new(pepper.encode(), purpose.encode() + b"\x00", hashlib.sha256)

    def __call__(self, value: str) -> str:
        mac = self._base.copy()
        mac.update(value.encode())
        return mac.hexdigest()


class RowChecker:
    """Checks one row at a time against the rules and against the rows seen before."""

    def __init__(self, known: dict[str, int], owners: dict[str, str], pepper: str, today: dt.date):
        self.known, self.owners, self.today = known, owners, today
        # Same purposes as identifiers.numen_digest / nir_digest.
        self.numen_digest = KeyedDigest(pepper, "numen")
        self.nir_digest = KeyedDigest(pepper, "nir10")
        self.seen_ids: dict[str, int] = {}
        self.seen_emails: dict[str, int] = {}

    def check(self, fields: tuple, line: int) -> tuple[CheckedRow | None, list[str]]:
        """The row's stored values, or ``None`` with the list of its problems (French)."""
        ident, nom, prenoms, born, place, email, numen, nir, scrutins = [f.strip() for f in fields]
        problems: list[str] = []
        self._check_identifiant(ident, line, problems)
        nom = _check_name(nom, "nom", problems)
        prenoms = _check_name(prenoms, "prénoms", problems)
        birth_date = self._check_birth_date(born, problems)
        place = _check_place(place, problems)
        email = self._check_email(email.lower(), ident, line, problems)
        numen10, nir10 = _check_identity_numbers(numen, nir, problems)
        names = _check_scrutins(scrutins, problems)
        if problems:
            return None, problems
        values = {"identifiant": ident, "nom": nom, "prenoms": prenoms, "date_naissance": birth_date,
                  "lieu_naissance": place, "email": email,
                  "numen_digest": self.numen_digest(numen10) if numen10 else None,
                  "nir_digest": self.nir_digest(nir10) if nir10 else None}
        return CheckedRow(values, names, self.known.get(ident)), problems

    def _check_identifiant(self, ident: str, line: int, problems: list[str]) -> None:
        if not ident:
            problems.append("identifiant manquant")
            return
        if len(ident) > MAX_IDENTIFIANT:
            problems.append(f"identifiant trop long ({MAX_IDENTIFIANT} caractères au plus)")
        elif ident.startswith(FORMULA_START):
            problems.append("identifiant : ne doit pas commencer par =, +, - ou @")
        first = self.seen_ids.setdefault(ident, line)
        if first != line:
            problems.append(f"identifiant « {ident} » en double (déjà ligne {first})")

    def _check_birth_date(self, text: str, problems: list[str]) -> dt.date | None:
        if not text:
            problems.append("date de naissance manquante")
            return None
        value = parse_birth_date(text)
        if value is None or not EARLIEST_BIRTH <= value < self.today:
            problems.append("date de naissance invalide (AAAA-MM-JJ ou JJ/MM/AAAA, date réelle passée)")
            return None
        return value

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
    match = ISO_DATE_RE.match(text)
    if match:
        year, month, day = match.groups()
    else:
        match = FR_DATE_RE.match(text)
        if not match:
            return None
        day, month, year = match.groups()
    try:
        return dt.date(int(year), int(month), int(day))
    except ValueError:
        return None  # 31/02, month 13…


def _check_name(value: str, label: str, problems: list[str]) -> str:
    """A name with its inner spaces collapsed (tabs and line breaks included)."""
    value = " ".join(value.split())
    plural = "s" if label.endswith("s") else ""
    if not value:
        problems.append(f"{label} manquant{plural}")
    elif len(value) > MAX_NAME:
        problems.append(f"{label} trop long{plural} ({MAX_NAME} caractères au plus)")
    elif value.startswith(FORMULA_START):
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
    numen_value = parse_numen(numen) if numen else None
    if numen and numen_value is None:
        problems.append("NUMEN invalide (13 caractères, chiffres et lettres)")
    nir10 = parse_nir(nir) if nir else None
    if nir and nir10 is None:
        problems.append("NIR invalide (10, 13 ou 15 caractères ; clé de contrôle vérifiée sur 15)")
    return numen_value, nir10


def _check_scrutins(text: str, problems: list[str]) -> list[str]:
    """The scrutins' names, separated by ``|``, trimmed, empty pieces and repeats dropped."""
    names = list(dict.fromkeys(name for name in (piece.strip() for piece in text.split("|")) if name))
    if not names:
        problems.append("aucun scrutin (noms séparés par |)")
    elif any(len(name) > MAX_SCRUTIN for name in names):
        problems.append(f"nom de scrutin trop long ({MAX_SCRUTIN} caractères au plus)")
    return names


class BatchWriter:
    """Writes checked rows in batches with Core ``executemany``, in the open transaction.

    New voters get their ids here (``max(id) + 1``…) so that their scrutins can be
    written in the same batch without reading ids back; on PostgreSQL an advisory
    lock (``_lock_imports``, taken before) keeps two imports from picking the same
    ids, and ``finish`` moves the sequence past them.
    """

    def __init__(self, conn: Connection, batch_size: int = BATCH_SIZE):
        self.conn, self.batch_size = conn, batch_size
        self.postgres = conn.dialect.name == "postgresql"
        self.next_id = (conn.execute(select(func.max(VOTERS.c.id))).scalar() or 0) + 1
        self.created = False
        self._new: list[dict] = []
        self._changed: list[dict] = []
        self._scrutins: list[dict] = []

    def add(self, row: CheckedRow) -> None:
        """Buffer one row; write the buffers when a batch is full."""
        if row.voter_id is None:
            voter_id = self.next_id
            self.next_id += 1
            self._new.append({"id": voter_id, **row.values, **NEW_VOTER_COUNTERS})
        else:
            voter_id = row.voter_id
            self._changed.append({"b_id": voter_id, **{"v_" + k: v for k, v in row.values.items()}})
        self._scrutins.extend({"voter_id": voter_id, "name": name} for name in row.scrutins)
        if len(self._new) + len(self._changed) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered (voters first: the scrutins refer to them)."""
        if self._new:
            self.conn.execute(insert(VOTERS), self._new)
            self.created = True
        if self._changed:
            self.conn.execute(UPDATE_VOTER, self._changed)
            # A re-import replaces the voter's scrutins by those of the file.
            self.conn.execute(DELETE_SCRUTINS, [{"b_voter": c["b_id"]} for c in self._changed])
        if self._scrutins:
            self.conn.execute(insert(SCRUTINS), self._scrutins)
        self._new, self._changed, self._scrutins = [], [], []

    def finish(self) -> None:
        """Write the last batch; on PostgreSQL, move the id sequence past the ids given."""
        self.flush()
        if self.postgres and self.created:
            self.conn.execute(text(
                "SELECT setval(pg_get_serial_sequence('voters', 'id'), (SELECT max(id) FROM voters))"))


UPDATE_VOTER = (update(VOTERS).where(VOTERS.c.id == bindparam("b_id"))
                .values({k: bindparam("v_" + k) for k in IMPORTED_FIELDS}))
DELETE_SCRUTINS = delete(SCRUTINS).where(SCRUTINS.c.voter_id == bindparam("b_voter"))
