"""Reading the register's file: its encoding, its header, and chunks of whole records.

The file is cut into chunks of about ``CHUNK_BYTES`` that each start and end on a
record boundary, so that each chunk can be decoded, parsed and checked on its own
(in another process: ``checking``) and give exactly what one reading of the whole
file would.  A line end ends a record unless it lies inside a quoted field: a
chunk without any ``"`` is cut at its last line end as it is; one with quotes is
parsed here to find where its last whole record ends.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from reassort.importer.rows import COLUMNS

CHUNK_BYTES = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: The encodings ``voters import --encoding`` accepts: UTF-8 (with or without BOM), and
#: Windows-1252, what Excel writes for « CSV (séparateur : point-virgule) ».
ENCODINGS = ("utf-8", "cp1252")
EXPECTED = ";".join(COLUMNS)


class BadFile(Exception):
    """The file as a whole cannot be read (encoding, header, CSV syntax)."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def not_decodable(encoding: str) -> str:
    """What to do with a file that is not in ``encoding``."""
    if encoding == "utf-8":
        return ("le fichier n'est pas encodé en UTF-8 : s'il a été enregistré par Excel en « CSV "
                "(séparateur : point-virgule) », relancez l'import avec --encoding cp1252 ; sinon "
                "enregistrez-le en « CSV UTF-8 » depuis votre tableur")
    return ("le fichier n'est pas encodé en Windows-1252 (cp1252) non plus : enregistrez-le en "
            "« CSV UTF-8 » depuis votre tableur, puis relancez l'import sans --encoding")


LOOKS_UTF8 = ("le fichier semble encodé en UTF-8, pas en Windows-1252 : relancez l'import sans "
              "--encoding cp1252 (les accents seraient mal lus)")
UTF16 = "le fichier est encodé en UTF-16 : enregistrez-le en « CSV UTF-8 » depuis votre tableur"


def line_ends(data: bytes) -> int:
    """Line ends in ``data`` as the csv module counts them: ``\\n``, ``\\r\\n`` and a lone ``\\r``."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")


def open_source(source: bytes | str | os.PathLike) -> BinaryIO:
    """The file's bytes; ``OSError`` (missing file) is left to the caller."""
    if isinstance(source, (bytes, bytearray)):
        return io.BytesIO(source)
    return open(source, "rb")


def source_size(source: bytes | str | os.PathLike) -> int:
    return len(source) if isinstance(source, (bytes, bytearray)) else os.path.getsize(source)


@dataclass(frozen=True)
class Layout:
    """What the header says: the delimiter, and where each of ``COLUMNS`` is in a row."""

    encoding: str
    delimiter: str
    positions: tuple[int, ...]


def read_header(raw: BinaryIO, encoding: str) -> tuple[Layout, bytes]:
    """The header's layout, and the bytes read past it (the start of the first chunk)."""
    data = raw.read(CHUNK_BYTES)
    if data.startswith(UTF16_BOMS):
        raise BadFile(UTF16, 1)
    if data.startswith(UTF8_BOM):
        data, encoding = data[len(UTF8_BOM):], "utf-8"  # a BOM says UTF-8, whatever was asked
    while True:
        end = _first_line_end(data)
        more = b"" if end is not None else raw.read(CHUNK_BYTES)
        if not more:
            break
        data += more
    end = len(data) if end is None else end
    try:
        header = data[:end].decode(encoding)
    except UnicodeDecodeError:
        raise BadFile(not_decodable(encoding), 1) from None
    return _layout(header, encoding), data[end:]


def _first_line_end(data: bytes) -> int | None:
    """Where the first line of ``data`` ends (after its line end), or ``None`` if it has none yet."""
    ends = [i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0]
    if not ends:
        return None
    end = min(ends)
    if data[end:end + 2] == b"\r\n":
        return end + 2
    if data[end:end + 1] == b"\r" and end + 1 == len(data):
        return None  # a "\n" may follow in the next read
    return end + 1


def _layout(header: str, encoding: str) -> Layout:
    if not header.strip():
        raise BadFile("fichier vide : la ligne 1 doit être l'en-tête " + EXPECTED, 1)
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    try:
        names = [name.strip().lower() for name in next(csv.reader([header], delimiter=delimiter))]
    except (csv.Error, StopIteration):
        names = []
    while names and not names[-1]:
        names.pop()  # the empty columns a spreadsheet leaves at the end (« ;;; »)
    if not set(names) & set(COLUMNS):
        # Probably a data row: say what is expected without echoing its personal data.
        raise BadFile("en-tête absent ou illisible : la ligne 1 doit être " + EXPECTED, 1)
    missing = [c for c in COLUMNS if c not in names]
    unknown = [n or "(vide)" for n in names if n not in COLUMNS]
    doubled = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
    if missing or unknown or doubled:
        parts = [f"colonnes manquantes : {', '.join(missing)}" if missing else "",
                 f"colonnes inconnues : {', '.join(unknown)}" if unknown else "",
                 f"colonnes en double : {', '.join(doubled)}" if doubled else ""]
        raise BadFile("en-tête incorrect (" + " ; ".join(p for p in parts if p) + ") ; attendu : " + EXPECTED, 1)
    return Layout(encoding, delimiter, tuple(names.index(c) for c in COLUMNS))


def chunks(raw: BinaryIO, start: bytes, layout: Layout, chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[bytes, int]]:
    """``(bytes, first line)`` of each chunk of whole records after the header (line 1).

    A chunk ends at the last record end within ``chunk_bytes`` or, when a record
    is longer than that, at the last one read so far.
    """
    pending, line, eof = start, 2, False
    while pending or not eof:
        if not eof and len(pending) < chunk_bytes:
            data = raw.read(chunk_bytes)
            pending, eof = pending + data, not data
            continue
        cut = len(pending) if eof else _record_end(pending, layout, line, chunk_bytes)
        if not cut:  # one record longer than what was read so far
            data = raw.read(chunk_bytes)
            pending, eof = pending + data, not data
            continue
        block, pending = pending[:cut], pending[cut:]
        yield block, line
        line += line_ends(block)


def _record_end(data: bytes, layout: Layout, first_line: int, chunk_bytes: int) -> int:
    """Where the last whole record of ``data`` within ``chunk_bytes`` ends (else of ``data``); 0: none yet."""
    for limit in (chunk_bytes, len(data)):
        cut = data.rfind(b"\n", 0, limit) + 1
        if cut and b'"' in data[:cut]:
            cut = whole_records(data[:cut], layout, first_line)
        if cut:
            return cut
    return 0


def whole_records(block: bytes, layout: Layout, first_line: int) -> int:
    """The length of the start of ``block`` that holds whole records (a quoted field may go on after it).

    The csv module itself reads the records: it is given the block's lines and then
    one more, a sentinel; a record that needs the sentinel did not end in the block.
    """
    try:
        lines = io.StringIO(block.decode(layout.encoding), newline="").readlines()
    except UnicodeDecodeError as exc:
        raise BadFile(not_decodable(layout.encoding), first_line + line_ends(block[:exc.start])) from None
    pulled = 0

    def feed():
        nonlocal pulled
        for text in lines:
            pulled += 1
            yield text
        pulled += 1
        yield "\n"

    whole = 0
    try:
        for _record in csv.reader(feed(), delimiter=layout.delimiter):
            if pulled > len(lines):
                break
            whole = pulled
    except csv.Error:
        return len(block)  # the checker reports it, at its line
    if whole == len(lines):
        return len(block)
    return len("".join(lines[:whole]).encode(layout.encoding))
