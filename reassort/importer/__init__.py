"""Import of the voters' register from the CSV the IT team prepares (SPEC §3).

Every row is checked against one table of rules (``rows``) by a pool of
processes (``checking``) reading chunks of whole records (``source``); every bad
row is reported with its line number (the header is line 1), and one bad row
means nothing is written: nothing is committed before the last row is checked.
What is stored: the e-mail lower-cased, keyed digests of the NUMEN and of the
NIR's first 10 characters, never their clear values.

Two ways of writing, chosen by the register's state:

- **first import** (no voter yet: nobody can be stalled): the rows are written
  as they are checked, in one transaction, rolled back at the first bad row
  (``writer``: SQLite multi-row ``INSERT``, PostgreSQL ``COPY``);
- **re-import** (voters exist, the poll may be running): the file is checked and
  staged whole in temporary tables, compared with the register field by field,
  then applied in short transactions of ``batch`` voters (``reimport``).

Re-importing updates the voters known by ``identifiant`` (identity, e-mail,
digests, scrutins) and never touches what they made themselves (password,
question défi, vote code, counters); voters absent from the file are counted,
and deactivated only with ``deactivate_absent``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
from typing import Callable, cast

from sqlalchemy import Table, exists, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.importer import checking, reimport, source
from reassort.importer.report import MAX_KEPT_ERRORS, ImportReport, RowError
from reassort.importer.rows import COLUMNS, RowChecker
from reassort.importer.source import CHUNK_BYTES, ENCODINGS, BadFile
from reassort.importer.writer import Writer, move_sequence_past_ids, next_voter_id
from reassort.procedures import audit, register
from reassort.storage.models import Voter

__all__ = ["COLUMNS", "ENCODINGS", "MAX_KEPT_ERRORS", "BadFile", "ImportReport", "RowChecker", "RowError",
           "import_voters"]

VOTERS = cast(Table, Voter.__table__)
#: Voters per transaction of a re-import: each holds that many voter rows for milliseconds.
APPLY_BATCH = 2000
# PostgreSQL advisory lock: one import at a time per schema (ids are given here); the schema's
# name in the key lets deployments (or test runs) sharing a database import side by side.
PG_IMPORT_LOCK = 0x52_45_41_53
LOCK_KEY = "(:key, hashtext(current_schema()))"
BUSY = "un autre import est en cours sur cette base : attendez sa fin, puis relancez"
ABSENT_DETAIL = "absent du fichier importé"


def import_voters(session: Session, source_file: bytes | str | os.PathLike, pepper: str, *,
                  dry_run: bool = False, today: dt.date | None = None,
                  progress: Callable[[int], None] | None = None, encoding: str = "utf-8",
                  deactivate_absent: bool = False, workers: int | None = None,
                  chunk_bytes: int = CHUNK_BYTES, batch: int = APPLY_BATCH) -> ImportReport:
    """Import the CSV ``source_file`` (its bytes, or a path) into the database of ``session``.

    The import uses a connection of its own from the session's engine and commits
    itself.  ``progress(rows_read)`` is called now and then.  ``workers``: checking
    processes (default: none for a small file, one per core otherwise).
    ``OSError`` (missing file) is left to the caller.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encodage non pris en charge : {encoding}")
    report = ImportReport(dry_run=dry_run)
    today = today or dt.date.fromtimestamp(runtime.now())
    engine = cast(Engine, session.get_bind())
    with source.open_source(source_file) as raw, engine.connect() as conn, _no_cycle_collection():
        if not _begin(conn):
            report.add_error(None, BUSY)
            return report
        try:
            layout, start = source.read_header(raw, encoding)
            n = checking.worker_count(source.source_size(source_file), workers)
            job = _Job(conn, report, today, pepper, progress, n, chunk_bytes)
            if conn.execute(select(exists().select_from(VOTERS))).scalar():
                job.reimport(raw, start, layout, deactivate_absent, batch)
            else:
                job.first_import(raw, start, layout)
        except BadFile as exc:
            conn.rollback()
            report = ImportReport(rows=report.rows, errors=[RowError(exc.line, str(exc))], error_count=1,
                                  dry_run=dry_run)
        finally:
            _end(conn)
    if not report.ok:
        report.clear_counts()
    return report


@contextlib.contextmanager
def _no_cycle_collection():
    """Pause the cyclic garbage collector: the import makes no cycles, but its
    millions of short-lived objects would trigger a collection every few hundred
    rows (a fifth of the import's time, measured)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _begin(conn: Connection) -> bool:
    """On PostgreSQL: one import at a time, and no ``statement_timeout`` for the import's own
    statements (the one of ``DATABASE_URL`` protects the voters' requests, not this)."""
    if conn.dialect.name != "postgresql":
        return True
    locked = conn.execute(text(f"SELECT pg_try_advisory_lock{LOCK_KEY}"), {"key": PG_IMPORT_LOCK}).scalar()
    if locked:
        conn.execute(text("SET statement_timeout = 0"))
    conn.commit()
    return bool(locked)


def _end(conn: Connection) -> None:
    """Leave the connection as the pool lent it: no staging table, no lock, its own timeouts.

    Should that fail (the server went away), the connection is discarded rather than
    given back with a lock or a temporary table: closing it ends both.
    """
    try:
        with contextlib.suppress(Exception):
            conn.rollback()
        reimport.drop(conn)
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_unlock{LOCK_KEY}"), {"key": PG_IMPORT_LOCK})
            conn.execute(text("RESET statement_timeout"))
        conn.commit()
    except Exception:  # noqa: BLE001 - the import's own outcome (or error) is what the caller must see
        conn.invalidate()


class _Job:
    """One import: the file read, checked and written on ``conn``."""

    def __init__(self, conn: Connection, report: ImportReport, today: dt.date, pepper: str,
                 progress: Callable[[int], None] | None, workers: int, chunk_bytes: int):
        self.conn, self.report, self.today, self.pepper = conn, report, today, pepper
        self.progress, self.workers, self.chunk_bytes = progress, workers, chunk_bytes

    def first_import(self, raw, start: bytes, layout: source.Layout) -> None:
        """An empty register: rows written as they are checked, one transaction."""
        report = self.report
        first_id = next_voter_id(self.conn)
        writer = None if report.dry_run else Writer(self.conn, "voters")
        try:
            valid = self._check(raw, start, layout, "voters", first_id, writer)
            if not report.ok or report.dry_run:
                self.conn.rollback()
                report.created = valid
                return
            report.created = valid
            if valid:
                move_sequence_past_ids(self.conn)
            self._record()
        finally:
            if writer is not None:
                writer.release()

    def reimport(self, raw, start: bytes, layout: source.Layout, deactivate_absent: bool, batch: int) -> None:
        """Voters exist: staged whole and compared, then applied ``batch`` voters per transaction."""
        conn, report = self.conn, self.report
        reimport.create(conn)
        self._check(raw, start, layout, "staging", 0, Writer(conn, "staging"))
        if not report.ok:
            return
        conn.commit()  # the staged rows only: the register is untouched so far
        for line, owner in reimport.conflicts(conn):
            report.add_error(line, f"adresse électronique déjà attribuée à l'électeur « {owner} », absent du "
                                   "fichier : il la garde ; donnez-lui une autre adresse dans le fichier, "
                                   "ou une autre adresse à cette ligne")
        if not report.ok:
            return
        found = reimport.changes(conn)
        conn.commit()
        report.created, report.changed, report.unchanged = found.new, len(found.changed), found.unchanged
        report.fields = {name: count for name, count in found.fields.items() if count}
        report.absent, report.absent_deactivated = len(found.absent), found.absent_deactivated
        report.absent_sample = found.absent_sample
        report.present_deactivated = found.present_deactivated
        if report.dry_run:
            report.deactivated = report.absent if deactivate_absent else 0
            return
        reimport.apply(conn, found, batch, conn.commit)
        if deactivate_absent:
            for part in reimport.parts(found.absent, batch):
                report.deactivated += len(register.deactivate(conn, part, ABSENT_DETAIL))
                conn.commit()
        if report.created:
            move_sequence_past_ids(conn)
        self._record()

    def _record(self) -> None:
        audit.record_many(self.conn, "voters_imported", [None], self.report.summary())
        self.conn.commit()

    def _check(self, raw, start: bytes, layout: source.Layout, target: str, first_id: int,
               writer: Writer | None) -> int:
        """Check every chunk; hand the valid ones to ``writer`` while the file has no error. Valid rows."""
        report = self.report
        settings = checking.CheckSettings(layout, self.today, self.pepper, self.conn.dialect.name, target, first_id)
        across = _AcrossRows(report)
        valid = 0
        with checking.checked(source.chunks(raw, start, layout, self.chunk_bytes), settings,
                              self.workers) as results:
            for result in results:
                report.rows += result.rows
                valid += result.valid
                for line, message in result.problems:
                    report.add_error(line, message)
                report.error_count += result.problem_count - len(result.problems)
                across.check(result)
                if result.fatal is not None:
                    raise result.fatal
                if writer is not None and report.ok:
                    writer.write(result.payload)
                if self.progress is not None:
                    self.progress(report.rows)
        report.errors.sort(key=lambda error: error.line or 0)
        return valid


class _AcrossRows:
    """The rules across rows: an identifiant, or an address, only once in the file."""

    def __init__(self, report: ImportReport):
        self.report = report
        self.idents: dict[str, int] = {}
        self.emails: dict[str, int] = {}

    def check(self, result: checking.ChunkResult) -> None:
        self._once(self.idents, result.idents, result.ident_lines, "identifiant « {} » en double (déjà ligne {})")
        self._once(self.emails, result.emails, result.email_lines, "adresse électronique en double (déjà ligne {1})")

    def _once(self, seen: dict[str, int], keys: list[str], lines: list[int], message: str) -> None:
        if seen.keys().isdisjoint(keys) and len(set(keys)) == len(keys):
            seen.update(zip(keys, lines, strict=True))  # the usual case, at C speed
            return
        for key, line in zip(keys, lines, strict=True):
            first = seen.setdefault(key, line)
            if first != line:
                self.report.add_error(line, message.format(key, first))
