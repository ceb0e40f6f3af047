"""Checking the chunks of the file in a pool of processes, so that the writer never waits for it.

Each chunk (``source.chunks``: whole records) is decoded, parsed and checked row by
row against the rule table (``rows.RowChecker``) by a worker process, which also
turns the valid rows into what the writer sends to the database as it is
(``writer.Encoder``): the importer's own process only hands chunks out, applies the
rules across rows (duplicates) and writes.  Results come back in the file's order,
a few chunks ahead of the writer.

Small files are checked in the importer's own process by the very same code (a
pool costs more to start than it saves).  Workers are forked from the importer
when it runs a single thread (the command line: nothing can hold a lock at the
moment of the fork, and the workers share its memory), else from a
``forkserver`` (a clean process that imported this module once) — which, as
with any multiprocessing start method but ``fork``, imports the program's main
module again: a script calling the importer must guard its entry point with
``if __name__ == "__main__"``.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import multiprocessing
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Iterable, Iterator

from reassort.importer import source
from reassort.importer.rows import COLUMNS, EMAIL, IDENT, RowChecker, width_message
from reassort.importer.writer import Encoder

#: Below this size a file is checked in the importer's own process.
POOL_MIN_BYTES = 4 * source.CHUNK_BYTES
#: Problems a chunk reports (all are counted): a wrong file would give one per row.
MAX_PROBLEMS_PER_CHUNK = 1000
WIDTH = len(COLUMNS)


@dataclass(frozen=True)
class CheckSettings:
    """What a worker needs: the file's layout, the day, the pepper, and what to encode rows for."""

    layout: source.Layout
    today: dt.date
    pepper: str
    dialect: str           # "sqlite" or "postgresql"
    target: str            # "voters" (written as they are) or "staging" (a re-import)
    first_id: int          # id of a new voter written from line 2 (``Encoder``)


@dataclass
class ChunkResult:
    """What one chunk gave: counts, problems, the keys for the rules across rows, and the rows to write."""

    first_line: int
    rows: int = 0          # data rows (blank ones not counted)
    valid: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)
    problem_count: int = 0
    idents: list[str] = field(default_factory=list)  # valid identifiants, with their lines
    ident_lines: list[int] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)  # valid addresses, with their lines
    email_lines: list[int] = field(default_factory=list)
    payload: Any = None    # ``Encoder.payload()`` of the valid rows
    fatal: source.BadFile | None = None  # the file cannot be read on from here

    def add_problem(self, line: int, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS_PER_CHUNK:
            self.problems.append((line, message))


class ChunkChecker:
    """Decodes, parses and checks chunks of whole records (in a worker, or in the importer)."""

    def __init__(self, settings: CheckSettings):
        self.settings = settings
        self.layout = settings.layout
        self.rows = RowChecker(settings.today, settings.pepper)
        self.pick = itemgetter(*settings.layout.positions)

    def check(self, data: bytes, first_line: int) -> ChunkResult:
        result = ChunkResult(first_line)
        text = self._decode(data, result)
        if text is None:
            return result
        encoder = Encoder(self.settings.dialect, self.settings.target, self.settings.first_id)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=self.layout.delimiter)
        end_of_previous = first_line - 1
        check, pick = self.rows.check, self.pick
        try:
            for fields in reader:
                # A record may span lines (quoted line breaks): it starts after the previous one.
                line, end_of_previous = end_of_previous + 1, first_line - 1 + reader.line_num
                if not any(fields):
                    continue  # blank lines and the empty rows spreadsheets leave at the end
                result.rows += 1
                if len(fields) != WIDTH and (len(fields) < WIDTH or "".join(fields[WIDTH:]).strip()):
                    result.add_problem(line, width_message(len(fields)))  # « ;;; » at the end is no column
                    continue
                values, problems = check(pick(fields))
                if values[IDENT] is not None:
                    result.idents.append(values[IDENT])
                    result.ident_lines.append(line)
                if values[EMAIL] is not None:
                    result.emails.append(values[EMAIL])
                    result.email_lines.append(line)
                if problems:
                    for problem in problems:
                        result.add_problem(line, problem)
                else:
                    result.valid += 1
                    encoder.add(line, values)
        except csv.Error as exc:
            result.fatal = source.BadFile(f"format CSV illisible ({exc})", end_of_previous + 1)
        result.payload = encoder.payload()
        return result

    def _decode(self, data: bytes, result: ChunkResult) -> str | None:
        encoding = self.layout.encoding
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            line = result.first_line + source.line_ends(data[:exc.start])
            result.fatal = source.BadFile(source.not_decodable(encoding), line)
            return None
        if encoding != "utf-8" and not data.isascii():
            with contextlib.suppress(UnicodeDecodeError):
                data.decode("utf-8")  # accents in UTF-8 read as Windows-1252 would be garbled
                result.fatal = source.BadFile(source.LOOKS_UTF8, result.first_line)
                return None
        return text


_checker: ChunkChecker | None = None


def _init_worker(settings: CheckSettings) -> None:
    global _checker
    _checker = ChunkChecker(settings)


def _check_in_worker(data: bytes, first_line: int) -> ChunkResult:
    assert _checker is not None  # noqa: S101  (set by the pool's initializer)
    return _checker.check(data, first_line)


def worker_count(size: int, requested: int | None) -> int:
    """``requested`` processes, or by default none for a small file, one per core otherwise."""
    if requested is not None:
        return max(0, requested)
    return 0 if size < POOL_MIN_BYTES else max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def checked(chunks: Iterable[tuple[bytes, int]], settings: CheckSettings,
            workers: int) -> Iterator[Iterator[ChunkResult]]:
    """The chunks' results in the file's order; with ``workers``, checked by that many processes.

    At most two chunks per worker are in flight: memory stays flat whatever the
    file's size.  Leaving the ``with`` block stops the workers, whatever is pending.
    """
    if not workers:
        checker = ChunkChecker(settings)
        yield (checker.check(data, line) for data, line in chunks)
        return
    context: Any
    if threading.active_count() == 1:
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
    pool = context.Pool(workers, initializer=_init_worker, initargs=(settings,))
    try:
        yield _in_order(pool, chunks, 2 * workers)
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _in_order(pool, chunks: Iterable[tuple[bytes, int]], ahead: int) -> Iterator[ChunkResult]:
    pending: deque = deque()
    for data, line in chunks:
        pending.append(pool.apply_async(_check_in_worker, (data, line)))
        if len(pending) >= ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()
