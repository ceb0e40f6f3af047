"""The CSV import, fed any bytes: a clean import or a clear error — never a traceback,
never a partial write (SPEC §3 ``voters import``).

Two kinds of input: raw bytes (anything at all, not even UTF-8), and files that
look like the real thing — header in any order, ``;`` or ``,``, BOM or not,
CRLF or LF — whose cells are now and then wrong (dates, NUMEN/NIR keys, Corsican
NIR, formulas, NUL, huge cells, quotes and line breaks, duplicates, columns
missing).  After each import the database is either exactly as before (errors,
``--dry-run``) or holds every row of the file (success).  Both the importer's API
and the ``voters import`` command (through Flask's CLI runner) are exercised.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from reassort import importer
from reassort.importer import rows, source
from reassort.rules import hashing, register
from reassort.storage.models import AuditEvent, Scrutin, Voter
from reassort.web.extensions import db
from tests.fuzzing import BAD_BYTES, any_text, fuzz_settings

pytestmark = pytest.mark.each_database

TODAY = dt.date(2026, 11, 1)


def snapshot(app) -> tuple:
    """Everything an import may touch, in a comparable form."""
    with app.app_context():
        with db.new_session() as s:
            voters = tuple(tuple(getattr(v, c.key) for c in Voter.__table__.columns)
                           for v in s.scalars(select(Voter).order_by(Voter.id)))
            scrutins = tuple(s.execute(select(Scrutin.voter_id, Scrutin.name).order_by(Scrutin.id)).all())
            audits = s.scalar(select(func.count()).select_from(AuditEvent))
    return voters, scrutins, audits


def run_import(app, source: bytes, dry_run: bool = False, **options) -> importer.ImportReport:
    with app.app_context():
        with db.new_session() as s:
            return importer.import_voters(s, source, app.config["HASH_PEPPER"], dry_run=dry_run, today=TODAY,
                                          **options)


# -- plausible files, now and then wrong -------------------------------------------------

def nir15(first13: str) -> str:
    body = first13.replace("2A", "19", 1) if first13[5:7] == "2A" else first13.replace("2B", "18", 1)
    return first13 + f"{97 - int(body) % 97:02d}"


@st.composite
def cell(draw, good, bad):
    """Mostly a good value; sometimes a wrong one, or anything at all."""
    roll = draw(st.integers(0, 99))
    if roll < 97:
        return draw(good)
    if roll < 99:
        return draw(bad)
    return draw(st.one_of(any_text, st.builds(lambda t: t + "\x00", any_text), st.just("x" * 300)))


@st.composite
def voter_row(draw, n: int) -> dict:
    ident = f"F{n:06d}"
    born = draw(st.dates(dt.date(1940, 1, 1), dt.date(2004, 12, 31)))
    first13 = draw(st.sampled_from(["1750369123456", "2620875107123", "158062A004123", "288112B341001"]))
    row = {
        "identifiant": draw(cell(st.just(ident), st.sampled_from(["", "=cmd", "F" * 65, "F000001"]))),
        "nom": draw(cell(st.sampled_from(["DUBOIS", "N'DIAYE", "de La Tour", "Lê", "ÉMILE-ZOLA"]),
                         st.sampled_from(["", "=1+1", "@SUM(A1)", "N" * 201, "a;b", 'a"b', "a\nb"]))),
        "prenoms": draw(cell(st.sampled_from(["Angela Claire", "Jean-Pierre", "Aïssatou"]),
                             st.sampled_from(["", "-x", "P" * 201, "\t"]))),
        "date_naissance": draw(cell(st.sampled_from([born.isoformat(), born.strftime("%d/%m/%Y")]),
                                    st.sampled_from(["31/02/1990", "1899-12-31", "2030-01-01", "1990-13-01",
                                                     "1/1/1990", "", "19900101", "٢٠٠٠-٠١-٠١"]))),
        "lieu_naissance": draw(cell(st.sampled_from(["", "75056", "2A004", "2b033", "97105"]),
                                    st.sampled_from(["7505", "ABCDE", "2C004", "750560"]))),
        "email": draw(cell(st.just(f"agent.{n}@education.gouv.fr"),
                           st.sampled_from(["", "pas-une-adresse", "agent.1@education.gouv.fr",
                                            "a@b", "é@education.gouv.fr", "x" * 250 + "@a.fr"]))),
        "numen": draw(cell(st.sampled_from(["", f"{n % 100:02d}E{n:07d}ABC", "12e 1234 567 abc"]),
                           st.sampled_from(["12E123", "1234567890123", "12E1234567AB!"]))),
        "nir": draw(cell(st.sampled_from([first13[:10], first13, nir15(first13), "2 62 08 75 107"]),
                         st.sampled_from([first13 + "00", "3620875107", "262087510", "2C62087510"]))),
        "scrutins": draw(cell(st.sampled_from(["CAP académique", "CAP|CSA ministériel", "A | B | A"]),
                              st.sampled_from(["", "|", "S" * 201, "||"]))),
    }
    if draw(st.integers(0, 7)) == 0:
        # A NUL inside an otherwise good cell: SQLite would keep it, PostgreSQL refuses it.
        name = draw(st.sampled_from(sorted(row)))
        at = draw(st.integers(0, len(row[name])))
        row[name] = row[name][:at] + "\x00" + row[name][at:]
    return row


@st.composite
def plausible_file(draw) -> bytes:
    columns = list(importer.COLUMNS)
    if draw(st.booleans()):
        columns = draw(st.permutations(columns))
    header = [draw(st.sampled_from([c, c.upper(), f" {c} "])) for c in columns]
    header_fault = draw(st.sampled_from([None] * 36 + ["drop", "extra", "double", "none"]))
    if header_fault == "drop":
        header.pop(draw(st.integers(0, len(header) - 1)))
    elif header_fault == "extra":
        header.append("commentaire")
    elif header_fault == "double":
        header.append(header[0])
    first = draw(st.integers(1, 10_000))
    rows = [draw(voter_row(first + i)) for i in range(draw(st.integers(0, 4)))]
    out = io.StringIO()
    delimiter = draw(st.sampled_from([";", ","]))
    writer = csv.writer(out, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\r\n", "\n"])))
    if header_fault != "none":
        writer.writerow(header)
    for row in rows:
        values = [row.get(c.strip().lower(), "") for c in header]
        shape = draw(st.sampled_from([None] * 27 + ["short", "long", "blank"]))
        if shape == "short":
            values = values[:-1]
        elif shape == "long":
            values = values + ["en trop"]
        elif shape == "blank":
            writer.writerow([])
        writer.writerow(values)
    text = out.getvalue()
    encoding = draw(st.sampled_from(["utf-8"] * 10 + ["utf-8-sig"] * 6 + ["latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 19)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from(BAD_BYTES)) + data[at:]
    return data


any_file = st.one_of(st.binary(max_size=600), plausible_file(), plausible_file())


# -- the API -----------------------------------------------------------------------------

def test_import_api_on_any_bytes_is_all_or_nothing(app):
    @fuzz_settings(scale=2)
    @given(source=any_file, dry_run=st.booleans(), encoding=st.sampled_from(importer.ENCODINGS))
    def check(source, dry_run, encoding):
        before = snapshot(app)
        report = run_import(app, source, dry_run=dry_run, encoding=encoding)  # never raises
        after = snapshot(app)
        lines = source.count(b"\n") + 1
        for error in report.errors:
            assert error.line is None or 1 <= error.line <= lines + 1, (error, lines)
            assert "Traceback" not in error.message and error.message.strip()
        if not report.ok:
            assert report.errors and (report.created, report.changed, report.unchanged) == (0, 0, 0)
            assert after == before
        elif dry_run:
            assert after == before
        else:
            voters_before, voters_after = len(before[0]), len(after[0])
            assert voters_after == voters_before + report.created
            assert report.created + report.changed + report.unchanged == report.rows
            assert after[2] == before[2] + 1  # one "voters_imported" event, even for no rows

    check()


def test_reimporting_a_clean_file_changes_nothing_more(app):
    @fuzz_settings(scale=0.5)
    @given(source=plausible_file())
    def check(source):
        first = run_import(app, source)
        if not first.ok or not first.rows:
            return
        before = snapshot(app)
        again = run_import(app, source)
        assert again.ok and (again.created, again.changed, again.unchanged) == (0, 0, first.rows)
        after = snapshot(app)
        assert after[0] == before[0] and sorted(after[1]) == sorted(before[1])

    check()


# -- the command -------------------------------------------------------------------------

def test_import_command_on_any_bytes_exits_cleanly(app, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "electeurs.csv"
    probe = runner.invoke(args=["voters", "import", "--help"])
    if probe.exit_code != 0:
        pytest.skip("la commande « voters import » n'est pas enregistrée")

    @fuzz_settings()
    @given(source=any_file, dry_run=st.booleans(), encoding=st.sampled_from(importer.ENCODINGS))
    def check(source, dry_run, encoding):
        path.write_bytes(source)
        before = snapshot(app)
        result = runner.invoke(args=["voters", "import", str(path), "--encoding", encoding]
                               + (["--dry-run"] if dry_run else []))
        after = snapshot(app)
        # Exit 0 (imported or checked) or 1 (a French message on stderr); never an exception.
        assert result.exit_code in (0, 1), (result.exit_code, result.output, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        if result.exit_code == 1 or dry_run:
            assert after == before
            if result.exit_code == 1:
                assert result.stderr.strip()

    check()


def test_import_command_with_a_missing_file_says_so(app, tmp_path):
    result = app.test_cli_runner().invoke(args=["voters", "import", str(tmp_path / "absent.csv")])
    assert result.exit_code in (1, 2) and result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


# -- the rule table: an oracle written from it ---------------------------------------------

PEPPER = "test-pepper-0123456789abcdef0123456789"
FORMULA = st.sampled_from(list(register.FORMULA_CHARS))
ODD_TEXT = st.text(alphabet="aZé0129AB=+-@|; \t\n\r\"/.xX", max_size=16)
CELLS = {  # per column: usual values, wrong ones
    "identifiant": (["E0001", "  E0002 ", "agent-7", "x"], ["", "=E1", "+E", "-1", "@x", "E" * 65, " \t"]),
    "nom": (["DUBOIS", "  de  La\tTour ", "N'DIAYE", "Lê"], ["", "=1+1", "-x", "N" * 201, " \n "]),
    "prenoms": (["Angela Claire", "Jean-Pierre", " Zoé "], ["", "@SOMME(A1)", "+33", "P" * 201]),
    "date_naissance": (["1962-08-24", "24/08/1962", "4/8/1962", " 1990-01-31 "],
                       ["", "1962-02-30", "2030-01-01", "1899-12-31", "19620824", "31/04/1970", "٢٠٠٠-٠١-٠١"]),
    "lieu_naissance": (["", "75056", "2a004", " 2B033 "], ["7505", "2C004", "ABCDE", "750560", "=7505"]),
    "email": (["a.b@ac-paris.fr", " A.B@AC-PARIS.FR ", "+x@y.fr"],
              ["", "a@b", "a b@c.fr", "x" * 250 + "@a.fr", "é@a.fr", "pas-une-adresse"]),
    "numen": (["", "12E1234567ABC", "12e 1234 567 abc", "12E1234567ABC"], ["12E123", "1234567890123", "=12E1"]),
    "nir": (["", "262087510712371", "2620875107", "2 62 08 75 107 123 71", "285092A00401779", "1780269123045"],
            ["262087510712372", "3620875107", "2C62087510", "26208751"]),
    "scrutins": (["CAP", "CAP|CSA", " A | B | A ", "A||B", "=CAP"], ["", "|", "S" * 201, " | "]),
}


@st.composite
def any_cell(draw, column: str):
    good, bad = CELLS[column]
    roll = draw(st.integers(0, 9))
    if roll < 5:
        return draw(st.sampled_from(good))
    if roll < 7:
        return draw(st.sampled_from(bad))
    if roll < 8:
        return draw(FORMULA) + draw(st.sampled_from(good))
    if roll < 9:
        return draw(ODD_TEXT)
    return draw(st.sampled_from(good)) + "\x00" if draw(st.integers(0, 4)) == 0 else draw(st.text(max_size=8))


any_row = st.tuples(*(any_cell(column) for column in importer.COLUMNS))


def verdict_from_the_table(cells, today=TODAY, pepper=PEPPER):
    """What ``rows.TABLE`` and ``rows.ROW_RULES`` say of a row, applied by hand, plainly."""
    if any("\x00" in cell for cell in cells):
        return None, [rows.NUL_IN_ROW]
    values, problems = [], []
    for column, raw in zip(rows.TABLE, cells, strict=True):
        cleaned = column.clean(raw)
        if not cleaned:
            values.append(None)
            if column.missing is not None:
                problems.append(column.missing)
            continue
        broken = None
        for piece in (cleaned if column.many else [cleaned]):
            if column.max_length is not None and len(piece) > column.max_length:
                broken = column.too_long_message
            elif column.no_formula and piece[0] in register.FORMULA_CHARS:
                broken = column.formula_message
            if broken:
                break
        if broken is None and column.parse is not None:
            cleaned = column.parse(cleaned, today)
            broken = column.invalid if cleaned is None else None
        values.append(None if broken else cleaned)
        if broken:
            problems.append(broken)
    for rule in rows.ROW_RULES:
        if not any(rows.TABLE[importer.COLUMNS.index(name)].clean(cells[importer.COLUMNS.index(name)])
                   for name in rule.any_of):
            problems.append(rule.message)
    if problems:
        return None, problems
    stored = [hashing.digest(pepper, column.digest, value) if column.digest and value is not None else value
              for column, value in zip(rows.TABLE, values, strict=True)]
    return stored, []


def assert_what_a_stored_row_must_be(values):
    """Independent of the table: what the database and the notices file need of an accepted row."""
    ident, nom, prenoms, born, place, email, numen, nir, scrutins = values
    for text, limit in ((ident, 64), (nom, 200), (prenoms, 200)):
        assert text and len(text) <= limit and text[0] not in "=+-@" and text == text.strip()
    assert re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", born)
    assert dt.date(1900, 1, 1) <= dt.date.fromisoformat(born) < TODAY
    assert place is None or re.fullmatch(r"[0-9]{5}|2[AB][0-9]{3}", place)
    assert email == email.lower() and re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,63}", email) and len(email) <= 254
    assert numen or nir
    for digest in (numen, nir):
        assert digest is None or re.fullmatch(r"[0-9a-f]{64}", digest)
    assert scrutins and all(name and name == name.strip() and len(name) <= 200 for name in scrutins)
    assert len(set(scrutins)) == len(scrutins)


@fuzz_settings(scale=25)
@given(cells=any_row)
def test_row_verdict_matches_the_rule_table(cells):
    """Any row, valid or not, gets the verdict the rule table says — the one checker every path uses."""
    values, problems = rows.RowChecker(TODAY, PEPPER).check(cells)
    expected_values, expected_problems = verdict_from_the_table(cells)
    assert problems == expected_problems
    if not problems:
        assert values == expected_values
        assert_what_a_stored_row_must_be(values)


def test_an_import_gives_each_row_the_verdict_of_the_rule_table(app):
    """Through the whole import (CSV written, chunks, checking, report): a row's errors are the table's."""
    @fuzz_settings(scale=0.5)
    @given(cells=any_row)
    def check(cells):
        if not any(cells):
            return  # a blank row is skipped, not judged
        out = io.StringIO()
        csv.writer(out, delimiter=";", lineterminator="\r\n").writerows([importer.COLUMNS, cells])  # quotes \r too
        report = run_import(app, out.getvalue().encode(), dry_run=True)
        _values, problems = verdict_from_the_table(cells)
        assert [str(e) for e in report.errors] == [f"ligne 2 : {p}" for p in problems]

    check()


# -- chunks of whole records -----------------------------------------------------------------

RECORD_TEXT = st.text(alphabet='ab;,"\n\r ', max_size=6)


@st.composite
def csv_body(draw) -> str:
    """Either what a CSV writer makes (quoted line breaks, doubled quotes), or lines with stray quotes."""
    if draw(st.booleans()):
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
        writer.writerows(draw(st.lists(st.lists(RECORD_TEXT, min_size=1, max_size=4), max_size=25)))
        return out.getvalue()
    return "".join(draw(st.lists(st.text(alphabet='a;"\n\r', max_size=10), max_size=25)))


@fuzz_settings(scale=25)
@given(body=csv_body(), chunk_bytes=st.integers(1, 64))
def test_chunks_hold_whole_records(body, chunk_bytes):
    """Cut anywhere by size, the file parses chunk by chunk exactly as it does whole (and lines follow)."""
    header = ";".join(importer.COLUMNS) + "\n"
    raw = io.BytesIO((header + body).encode())
    layout, start = source.read_header(raw, "utf-8")
    pieces = list(source.chunks(raw, start, layout, chunk_bytes))
    assert b"".join(data for data, _line in pieces) == body.encode()
    line = 2
    records = []
    for data, first_line in pieces:
        assert first_line == line
        line += source.line_ends(data)
        records += list(csv.reader(io.StringIO(data.decode(), newline=""), delimiter=";"))
    assert records == list(csv.reader(io.StringIO(body, newline=""), delimiter=";"))
