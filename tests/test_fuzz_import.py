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

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from reassort import importer
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


def run_import(app, source: bytes, dry_run: bool = False) -> importer.ImportReport:
    with app.app_context():
        with db.new_session() as s:
            return importer.import_voters(s, source, app.config["HASH_PEPPER"], dry_run=dry_run, today=TODAY)


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
    @given(source=any_file, dry_run=st.booleans())
    def check(source, dry_run):
        before = snapshot(app)
        report = run_import(app, source, dry_run=dry_run)  # never raises
        after = snapshot(app)
        lines = source.count(b"\n") + 1
        for error in report.errors:
            assert error.line is None or 1 <= error.line <= lines + 1, (error, lines)
            assert "Traceback" not in error.message and error.message.strip()
        if not report.ok:
            assert report.errors and (report.created, report.updated) == (0, 0)
            assert after == before
        elif dry_run:
            assert after == before
        else:
            voters_before, voters_after = len(before[0]), len(after[0])
            assert voters_after == voters_before + report.created
            assert report.created + report.updated == report.rows
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
        assert again.ok and again.created == 0 and again.updated == first.rows
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
    @given(source=any_file, dry_run=st.booleans())
    def check(source, dry_run):
        path.write_bytes(source)
        before = snapshot(app)
        result = runner.invoke(args=["voters", "import", str(path)] + (["--dry-run"] if dry_run else []))
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
