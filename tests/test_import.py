"""Import of the voters' register (SPEC §3): every bad row reported with its line,
nothing written on error, re-import by identifiant, keyed digests only."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import pathlib

import pytest
from sqlalchemy import select, text

from reassort import importer
from reassort.importer import source, writer
from reassort.procedures import audit
from reassort.rules import hashing
from reassort.rules.identifiers import nir_digest, numen_digest
from reassort.storage.models import Scrutin, Voter
from reassort.web.extensions import db
from tests.conftest import get_voter

pytestmark = pytest.mark.each_database

HEADER = "identifiant;nom;prenoms;date_naissance;lieu_naissance;email;numen;nir;scrutins"
NUMEN = "12E1234567ABC"
NIR15 = "262087510712371"  # key 71; first 10 = 2620875107
NIR15_2A = "285092A00401779"  # Corsica, 2A counts as 19 in the key
NIR15_2B = "178062B033012"  # 13 characters, Haute-Corse
GOOD = f"E0001;DUBOIS;Angela Claire;1962-08-24;75107;Angela.Dubois@AC-Paris.fr;{NUMEN};{NIR15};CAP|CSA"
SECOND = "E0002;MARTIN;Jean;14/02/1978;69123;jean.martin@ac-lyon.fr;;178026912304568;CSA"
SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "samples", "electeurs.csv")


def csv_bytes(*rows: str, header: str = HEADER, bom: bool = False) -> bytes:
    data = "\n".join((header,) + rows) + "\n"
    return ("\ufeff" if bom else "").encode() + data.encode("utf-8")


def run_import(app, source, **options) -> importer.ImportReport:
    with app.app_context():
        session = db.new_session()
        try:
            return importer.import_voters(session, source, app.config["HASH_PEPPER"], **options)
        finally:
            session.close()


def all_voters(app) -> list[Voter]:
    with app.app_context():
        session = db.new_session()
        voters = list(session.scalars(select(Voter).order_by(Voter.id)))
        for voter in voters:
            voter.scrutin_names = [s.name for s in voter.scrutins]
        session.close()
        return voters


def messages(report) -> list[str]:
    return [str(error) for error in report.errors]


def test_import_creates_voters_with_their_scrutins(app):
    report = run_import(app, csv_bytes(GOOD, SECOND))
    assert report.ok and (report.rows, report.created, report.changed, report.unchanged) == (2, 2, 0, 0)
    first, second = all_voters(app)
    assert first.identifiant == "E0001" and first.prenoms == "Angela Claire"
    assert first.email == "angela.dubois@ac-paris.fr"  # stored lower-cased
    assert first.date_naissance == dt.date(1962, 8, 24) and first.lieu_naissance == "75107"
    assert first.scrutin_names == ["CAP", "CSA"]
    assert second.date_naissance == dt.date(1978, 2, 14) and second.numen_digest is None
    assert first.password_hash is None and first.code_digest is None
    assert first.session_epoch == 0
    # Generations start at random (SEC-46): no link can be forged for generation 0 or 1.
    starts = {first.activation_generation, first.link_generation, second.activation_generation,
              second.link_generation}
    assert len(starts) == 4 and all(1 <= g < 2**31 for g in starts)


def test_sample_file_imports(app):
    report = run_import(app, SAMPLE)
    assert report.ok and report.created == 6
    voters = {v.identifiant: v for v in all_voters(app)}
    assert voters["E0003"].lieu_naissance == "2A004"
    assert voters["E0004"].nir_digest is None and voters["E0004"].numen_digest


@pytest.mark.parametrize("row, reason", [
    ("E0009;DUPONT;Jean;1970-01-01;75056;jean@ac-paris.fr;12E1234567ABC;CAP",
     "9 colonnes attendues, 8 trouvées"),
    (";DUPONT;Jean;1970-01-01;75056;jean@ac-paris.fr;12E1234567ABC;;CAP", "identifiant manquant"),
    ("E0009; ;Jean;1970-01-01;75056;jean@ac-paris.fr;12E1234567ABC;;CAP", "nom manquant"),
    ("E0009;DUPONT;;1970-01-01;75056;jean@ac-paris.fr;12E1234567ABC;;CAP", "prénoms manquants"),
    ("E0009;=HYPERLINK(\"x\");Jean;1970-01-01;75056;jean@ac-paris.fr;12E1234567ABC;;CAP",
     "nom : ne doit pas commencer par ="),
    ("E0009;DUPONT;Jean;1970-01-01;75056;;12E1234567ABC;;CAP", "adresse électronique manquante"),
    ("E0009;DUPONT;Jean;1970-01-01;75056;jean.dupont@;12E1234567ABC;;CAP", "adresse électronique invalide"),
    ("E0009;DUPONT;Jean;1970-01-01;75056;jean dupont@ac-paris.fr;12E1234567ABC;;CAP",
     "adresse électronique invalide"),
    ("E0009;DUPONT;Jean;;75056;jean@ac-paris.fr;12E1234567ABC;;CAP", "date de naissance manquante"),
    ("E0009;DUPONT;Jean;1970-02-30;75056;jean@ac-paris.fr;12E1234567ABC;;CAP", "date de naissance invalide"),
    ("E0009;DUPONT;Jean;31/04/1970;75056;jean@ac-paris.fr;12E1234567ABC;;CAP", "date de naissance invalide"),
    ("E0009;DUPONT;Jean;1970/01/01;75056;jean@ac-paris.fr;12E1234567ABC;;CAP", "date de naissance invalide"),
    ("E0009;DUPONT;Jean;2099-01-01;75056;jean@ac-paris.fr;12E1234567ABC;;CAP", "date de naissance invalide"),
    ("E0009;DUPONT;Jean;1970-01-01;7505;jean@ac-paris.fr;12E1234567ABC;;CAP", "lieu de naissance"),
    ("E0009;DUPONT;Jean;1970-01-01;2C004;jean@ac-paris.fr;12E1234567ABC;;CAP", "lieu de naissance"),
    ("E0009;DUPONT;Jean;1970-01-01;75056;jean@ac-paris.fr;;;CAP", "ni NUMEN ni NIR"),
    ("E0009;DUPONT;Jean;1970-01-01;75056;jean@ac-paris.fr;12345;;CAP", "NUMEN invalide"),
    ("E0009;DUPONT;Jean;1970-01-01;75056;jean@ac-paris.fr;;1234;CAP", "NIR invalide"),
    ("E0009;DUPONT;Jean;1970-01-01;75056;jean@ac-paris.fr;;262087510712372;CAP", "NIR invalide"),
    ("E0009;DUPONT;Jean;1970-01-01;75056;jean@ac-paris.fr;12E1234567ABC;;", "aucun scrutin"),
    ("E0009;DUPONT;Jean;1970-01-01;75056;jean@ac-paris.fr;12E1234567ABC;; | ", "aucun scrutin"),
    ("E0001;DUPONT;Jean;1970-01-01;75056;jean@ac-paris.fr;12E1234567ABC;;CAP",
     "identifiant « E0001 » en double (déjà ligne 2)"),
    ("E0009;DUPONT;Jean;1970-01-01;75056;ANGELA.dubois@ac-paris.fr;12E1234567ABC;;CAP",
     "adresse électronique en double (déjà ligne 2)"),
], ids=["column_count", "no_identifiant", "no_nom", "no_prenoms", "formula_in_nom", "no_email",
        "email_without_domain", "email_with_space", "no_date", "february_30", "april_31",
        "date_format", "future_date", "lieu_too_short", "lieu_not_corsica", "neither_numen_nor_nir",
        "bad_numen", "bad_nir_length", "bad_nir_key", "no_scrutin", "empty_scrutins",
        "duplicate_identifiant", "duplicate_email"])
def test_import_rejects_bad_row(app, row, reason):
    report = run_import(app, csv_bytes(GOOD, row))
    assert not report.ok
    assert any(message.startswith("ligne 3 : ") and reason in message for message in messages(report)), \
        messages(report)
    assert report.created == 0
    assert all_voters(app) == []


def test_every_bad_row_is_listed(app):
    report = run_import(app, csv_bytes(GOOD, "E0005;;;;;;;;", SECOND, "E0003;X;Y;1970-01-01;;bad;;;CAP"))
    lines = sorted({error.line for error in report.errors})
    assert lines == [3, 5]
    assert report.error_count == len(report.errors) >= 6
    assert all_voters(app) == []


def test_email_of_a_voter_absent_from_the_file_is_refused(app, make_voter):
    make_voter(identifiant="E0100", email="angela.dubois@ac-paris.fr")
    report = run_import(app, csv_bytes(GOOD))
    assert [str(e).split(" :", 2)[:2] for e in report.errors] == [
        ["ligne 2", " adresse électronique déjà attribuée à l'électeur « E0100 », absent du fichier"]]
    assert "donnez-lui une autre adresse dans le fichier" in report.errors[0].message
    assert [v.identifiant for v in all_voters(app)] == ["E0100"]


def test_bom_is_accepted(app):
    report = run_import(app, csv_bytes(GOOD, bom=True))
    assert report.ok and all_voters(app)[0].identifiant == "E0001"


def test_comma_delimiter(app):
    rows = [GOOD.replace(";", ","), '"E0002","MARTIN","Jean, Paul",14/02/1978,69123,jean.martin@ac-lyon.fr,,'
            '178026912304568,"CSA, collège A|CAP"']
    report = run_import(app, csv_bytes(*rows, header=HEADER.replace(";", ",")))
    assert report.ok, messages(report)
    second = all_voters(app)[1]
    assert second.prenoms == "Jean, Paul" and second.scrutin_names == ["CSA, collège A", "CAP"]


def test_columns_may_come_in_any_order(app):
    header = "email;identifiant;nom;prenoms;date_naissance;lieu_naissance;numen;nir;scrutins"
    report = run_import(app, csv_bytes(f"a.b@ac-nice.fr;E0007;NOM;Prénom;1980-01-01;;{NUMEN};;CAP",
                                       header=header))
    assert report.ok and all_voters(app)[0].email == "a.b@ac-nice.fr"


def test_non_utf8_file_is_refused_and_the_message_suggests_cp1252(app):
    latin1 = csv_bytes(SECOND, GOOD).decode().replace("DUBOIS", "LEFÈVRE").encode("cp1252")
    report = run_import(app, latin1)
    assert [e.line for e in report.errors] == [3]  # the line of the first byte that is not UTF-8
    assert "n'est pas encodé en UTF-8" in report.errors[0].message
    assert "--encoding cp1252" in report.errors[0].message
    assert all_voters(app) == []


@pytest.mark.parametrize("header, reason", [
    ("identifiant;nom;prenoms;date_naissance;email;numen;nir;scrutins", "colonnes manquantes : lieu_naissance"),
    (HEADER + ";service", "colonnes inconnues : service"),
    ("E0001;DUBOIS;Angela;1962-08-24;75107;a@b.fr;;;CAP", "en-tête absent ou illisible"),
])
def test_bad_header_is_explained(app, header, reason):
    report = run_import(app, csv_bytes(GOOD, header=header))
    assert len(report.errors) == 1 and report.errors[0].line == 1
    assert reason in report.errors[0].message and HEADER in report.errors[0].message
    assert "DUBOIS" not in report.errors[0].message  # a data row is not echoed
    assert all_voters(app) == []


def test_empty_file_is_explained(app):
    report = run_import(app, b"")
    assert "fichier vide" in messages(report)[0]


def test_blank_lines_are_skipped_and_line_numbers_follow_the_file(app):
    report = run_import(app, (HEADER + "\n\n" + GOOD + "\n;;;;;;;;\n" + "E0002;X\n").encode())
    assert report.rows == 2
    assert messages(report) == ["ligne 5 : 9 colonnes attendues, 2 trouvées"]


def test_line_numbers_count_quoted_line_breaks(app):
    multi = 'E0002;MARTIN;"Jean\nPaul";14/02/1978;69123;jean.martin@ac-lyon.fr;;178026912304568;CSA'
    report = run_import(app, csv_bytes(multi, "E0003;X;Y;1970-01-01;;;;;CAP"))
    assert {e.line for e in report.errors} == {4}  # header 1, the quoted record 2–3


@pytest.mark.parametrize("nir, first10", [
    (NIR15, "2620875107"),
    (NIR15[:13], "2620875107"),
    (NIR15[:10], "2620875107"),
    (NIR15_2A, "285092A004"),
    (NIR15_2A[:13], "285092A004"),
    (NIR15_2B, "178062B033"),
    ("2 62 08 75 107 123 71", "2620875107"),
], ids=["15", "13", "10", "corsica_2A_15", "corsica_2A_13", "corsica_2B_13", "with_spaces"])
def test_nir_forms_store_the_digest_of_the_first_10(app, nir, first10):
    report = run_import(app, csv_bytes(f"E0001;DUBOIS;Angela;1962-08-24;;a.d@ac-paris.fr;;{nir};CAP"))
    assert report.ok, messages(report)
    assert all_voters(app)[0].nir_digest == nir_digest(app.config["HASH_PEPPER"], first10)


def test_lowercase_numen_is_accepted(app):
    report = run_import(app, csv_bytes(f"E0001;DUBOIS;Angela;1962-08-24;2a004;a.d@ac-corse.fr;{NUMEN.lower()};;CAP"))
    assert report.ok
    voter = all_voters(app)[0]
    assert voter.numen_digest == numen_digest(app.config["HASH_PEPPER"], NUMEN)
    assert voter.lieu_naissance == "2A004"


@pytest.mark.parametrize("written", ["1962-08-24", "24/08/1962", "4/8/1962"])
def test_both_date_formats(app, written):
    expected = dt.date(1962, 8, 4) if written.startswith("4/") else dt.date(1962, 8, 24)
    report = run_import(app, csv_bytes(f"E0001;DUBOIS;Angela;{written};;a.d@ac-paris.fr;{NUMEN};;CAP"))
    assert report.ok
    assert all_voters(app)[0].date_naissance == expected


def test_reimport_updates_by_identifiant_and_keeps_password_and_code(app, make_voter):
    voter_id = make_voter(identifiant="E0001", email="old@ac-paris.fr", challenge_failures=2,
                          link_generation=3)
    before = get_voter(app, voter_id)
    report = run_import(app, csv_bytes(GOOD, SECOND))
    assert report.ok and (report.created, report.changed, report.unchanged) == (1, 1, 0)
    after = get_voter(app, voter_id)
    assert (after.nom, after.prenoms, after.email) == ("DUBOIS", "Angela Claire", "angela.dubois@ac-paris.fr")
    assert after.nir_digest == nir_digest(app.config["HASH_PEPPER"], NIR15[:10])
    assert after.password_hash == before.password_hash and after.answer_hash == before.answer_hash
    assert after.code_digest == before.code_digest and after.question_id == before.question_id
    assert (after.challenge_failures, after.link_generation) == (2, 3)
    voters = all_voters(app)
    assert voters[0].scrutin_names == ["CAP", "CSA"]  # replaced, not added
    assert voters[1].id > voter_id


def test_reimporting_the_same_file_changes_nothing(app):
    run_import(app, csv_bytes(GOOD, SECOND))
    first = [(v.id, v.email, v.nir_digest, v.scrutin_names) for v in all_voters(app)]
    report = run_import(app, csv_bytes(GOOD, SECOND))
    assert (report.created, report.changed, report.unchanged) == (0, 0, 2)
    assert [(v.id, v.email, v.nir_digest, v.scrutin_names) for v in all_voters(app)] == first


def test_dry_run_writes_nothing(app):
    report = run_import(app, csv_bytes(GOOD, SECOND), dry_run=True)
    assert report.ok and report.dry_run and (report.rows, report.created) == (2, 2)
    assert all_voters(app) == []
    with app.app_context():
        session = db.new_session()
        assert session.scalar(select(Scrutin.id)) is None
        session.close()


def test_import_is_recorded_in_the_audit_trail(app):
    run_import(app, csv_bytes(GOOD, SECOND))
    with app.app_context():
        session = db.new_session()
        assert audit.counts(session) == {"voters_imported": 1}
        session.close()


def test_digests_not_clear_values(app, settings):
    run_import(app, csv_bytes(GOOD, SECOND))
    with app.app_context():
        if settings["DATABASE_URL"].startswith("sqlite"):
            db.engine.dispose()  # the last connection closed checkpoints the WAL into the file
            path = settings["DATABASE_URL"].removeprefix("sqlite:///")
            stored = b"".join(pathlib.Path(p).read_bytes() for p in (path, path + "-wal") if os.path.exists(p))
        else:
            with db.engine.connect() as conn:
                stored = "".join(conn.scalars(text("SELECT voters::text FROM voters"))).encode()
    assert b"DUBOIS" in stored  # what was written is there
    for clear in (NUMEN, NIR15, NIR15[:10], "178026912304568", "1780269123"):
        assert clear.encode() not in stored


def test_progress_is_reported(app):
    seen = []
    run_import(app, csv_bytes(GOOD, SECOND), progress=seen.append, chunk_bytes=len(GOOD) + 1)
    assert seen[-1] == 2 and seen == sorted(seen) and len(seen) == 2


def test_batches_share_the_scrutins_correctly(app):
    rows = [f"E{n:04d};NOM;Prénom;1970-01-01;;p{n}@ac-paris.fr;{NUMEN};;S{n}|T{n}" for n in range(1, 8)]
    assert run_import(app, csv_bytes(*rows), chunk_bytes=150).ok
    assert [v.scrutin_names for v in all_voters(app)] == [[f"S{n}", f"T{n}"] for n in range(1, 8)]


@pytest.mark.parametrize("pepper", ["court", "p" * 64, "un poivre bien plus long que le bloc de SHA-256 " * 2])
def test_keyed_digest_is_digest(pepper):
    for purpose, value in (("numen", NUMEN), ("nir10", "285092A004"), ("numen", "")):
        assert hashing.KeyedDigest(pepper, purpose)(value) == hashing.digest(pepper, purpose, value)


def test_voters_added_after_an_import_get_fresh_ids(app):
    """Imported ids are given by the importer: PostgreSQL's sequence must have moved past them."""
    assert run_import(app, csv_bytes(GOOD)).ok
    assert run_import(app, csv_bytes(GOOD, SECOND)).ok
    with app.app_context():
        session = db.new_session()
        extra = Voter(identifiant="E0100", nom="X", prenoms="Y", date_naissance=dt.date(1970, 1, 1),
                      email="x@y.fr", activation_generation=0, link_generation=0, link_window_start=0,
                      links_in_window=0, challenge_failures=0, challenge_locked_until=0, session_epoch=0)
        session.add(extra)
        session.commit()
        assert extra.id > max(v.id for v in all_voters(app) if v.identifiant != "E0100")
        session.close()


def test_voters_absent_from_the_file_are_left_alone(app, make_voter):
    voter_id = make_voter(identifiant="E0500")
    before = get_voter(app, voter_id)
    assert run_import(app, csv_bytes(GOOD)).ok
    after = get_voter(app, voter_id)
    assert (after.email, after.code_digest, after.password_hash) == \
        (before.email, before.code_digest, before.password_hash)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_failing_write_rolls_everything_back(app, monkeypatch, workers):
    """An error while writing reaches the caller; nothing stays written, no checking process lingers."""
    real_write = writer.Writer.write
    calls = []

    def write_then_fail(self, payload):
        calls.append(payload[2])
        if len(calls) == 2:
            raise RuntimeError("disque plein")
        real_write(self, payload)

    monkeypatch.setattr(writer.Writer, "write", write_then_fail)
    rows = [f"E{n:04d};NOM;Prénom;1970-01-01;;p{n}@ac-paris.fr;{NUMEN};;CAP" for n in range(1, 8)]
    with pytest.raises(RuntimeError, match="disque plein"):
        run_import(app, csv_bytes(*rows), chunk_bytes=100, workers=workers)
    assert all_voters(app) == []
    assert multiprocessing.active_children() == []


def test_the_connection_gets_its_page_cache_back(app, settings):
    if not settings["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("a SQLite setting")
    with app.app_context():
        with db.engine.connect() as conn:
            before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
        assert run_import(app, csv_bytes(GOOD)).ok
        with db.engine.connect() as conn:  # the pool's one connection, the import's
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == before


@pytest.mark.parametrize("workers", [0, 2])
def test_a_bad_byte_far_down_the_file_rolls_back_the_batches_written(app, workers):
    rows = [f"E{n:04d};NOM;Prénom;1970-01-01;;p{n}@ac-paris.fr;{NUMEN};;CAP" for n in range(1, 301)]
    data = csv_bytes(*rows) + "E0999;LEFÈVRE;Luc;1970-01-01;;l@ac-paris.fr;;;CAP\n".encode("cp1252")
    report = run_import(app, data, chunk_bytes=500, workers=workers)
    assert [(e.line, e.message) for e in report.errors] == [(302, source.not_decodable("utf-8"))]
    assert all_voters(app) == []


def test_quotes_backslashes_and_tabs_survive(app):
    row = 'E0001;"D\'ALEMBERT ""dit"" \\ Jean";Zoé;1962-08-24;;z@ac-paris.fr;;' + NIR15 + ';"CAP\tcollège|CSA \\ B"'
    assert run_import(app, csv_bytes(row)).ok
    voter = all_voters(app)[0]
    assert voter.nom == 'D\'ALEMBERT "dit" \\ Jean'
    assert voter.scrutin_names == ["CAP\tcollège", "CSA \\ B"]


# -- the rule table (issue 11 item 4) --------------------------------------------------------

@pytest.mark.parametrize("column, label", [("identifiant", "identifiant"), ("nom", "nom"), ("prenoms", "prénoms")])
@pytest.mark.parametrize("char", list("=+-@"))
def test_names_starting_with_a_formula_character_are_refused(app, column, label, char):
    """They go into the notices file opened in a spreadsheet, which would compute them (CSV injection)."""
    cells = dict(zip(importer.COLUMNS, GOOD.split(";"), strict=True))
    cells[column] = f"{char}HYPERLINK(\"http://x\")"
    report = run_import(app, csv_bytes(";".join(cells[c] for c in importer.COLUMNS)))
    assert messages(report) == [f"ligne 2 : {label} : ne doit pas commencer par =, +, - ou @"]
    assert all_voters(app) == []


def test_a_formula_character_inside_a_name_is_fine(app):
    report = run_import(app, csv_bytes(GOOD.replace("Angela Claire", "Angela-Claire =+@")))
    assert report.ok and all_voters(app)[0].prenoms == "Angela-Claire =+@"


def test_column_lengths_come_from_the_models():
    from reassort.importer.rows import TABLE
    from reassort.rules.register import INSEE_LENGTH

    lengths = {column.name: column.max_length for column in TABLE}
    voters = Voter.__table__.c
    assert lengths["identifiant"] == voters.identifiant.type.length
    assert lengths["nom"] == voters.nom.type.length and lengths["prenoms"] == voters.prenoms.type.length
    assert lengths["email"] == voters.email.type.length
    assert lengths["scrutins"] == Scrutin.__table__.c.name.type.length
    assert INSEE_LENGTH == voters.lieu_naissance.type.length


@pytest.mark.parametrize("cell, length", [("identifiant", 64), ("nom", 200), ("prenoms", 200)])
def test_a_cell_one_character_too_long_is_refused_and_one_less_accepted(app, cell, length):
    cells = dict(zip(importer.COLUMNS, GOOD.split(";"), strict=True))
    cells[cell] = "A" * (length + 1)
    assert not run_import(app, csv_bytes(";".join(cells[c] for c in importer.COLUMNS))).ok
    cells[cell] = "A" * length
    assert run_import(app, csv_bytes(";".join(cells[c] for c in importer.COLUMNS))).ok


def mixed_file(n: int = 300) -> bytes:
    """Rows of every kind: quoted line breaks and separators, quotes, bad rows, duplicates, blank lines."""
    rows = []
    for i in range(1, n + 1):
        if i % 37 == 0:
            rows.append(f'E{i:04d};"MULTI\nLIGNE";"Jean; dit ""Jo""";1970-01-01;;m{i}@ac-paris.fr;{NUMEN};;"A|B\nC"')
        elif i % 41 == 0:
            rows.append(f"E{i:04d};BAD;Date;1970-02-30;;b{i}@ac-paris.fr;{NUMEN};;CAP")
        elif i % 43 == 0:
            rows.append(f"E{i - 1:04d};DOUBLE;Id;1970-01-01;;d{i}@ac-paris.fr;{NUMEN};;CAP")
        elif i % 47 == 0:
            rows.append("")
        else:
            rows.append(f"E{i:04d};NOM;Prénom;1970-01-01;75056;p{i}@ac-paris.fr;{NUMEN};;CAP|CSA")
    return csv_bytes(*rows)


@pytest.mark.parametrize("chunk_bytes", [97, 500, 4096])
def test_the_pool_and_the_importer_alone_give_the_same_verdicts(app, chunk_bytes):
    """Chunks cut anywhere (even inside quoted fields) and checked in other processes: the very same report."""
    data = mixed_file()
    alone = run_import(app, data, dry_run=True, workers=0, chunk_bytes=1 << 20)
    pooled = run_import(app, data, dry_run=True, workers=2, chunk_bytes=chunk_bytes)
    assert not alone.ok and len(alone.errors) > 10
    assert (pooled.rows, pooled.error_count, messages(pooled)) == (alone.rows, alone.error_count, messages(alone))


def test_a_clean_file_checked_by_the_pool_imports_every_row(app):
    rows = [line for line in mixed_file().decode().split("\n")[1:] if line and "BAD" not in line
            and "DOUBLE" not in line]
    data = csv_bytes(*rows)
    report = run_import(app, data, workers=2, chunk_bytes=211)
    assert report.ok, messages(report)[:3]
    voters = all_voters(app)
    assert len(voters) == report.created == report.rows
    multi = next(v for v in voters if v.identifiant == "E0037")
    assert (multi.nom, multi.prenoms, multi.scrutin_names) == ("MULTI LIGNE", 'Jean; dit "Jo"', ["A", "B\nC"])


# -- real exports: Windows-1252, Excel's trailing columns (issue 16 item 7) --------------------

EXCEL_SAMPLE = os.path.join(os.path.dirname(SAMPLE), "electeurs-excel.csv")


def test_cp1252_file_imports_with_encoding_option(app, runner):
    """Excel's « CSV (séparateur : point-virgule) »: Windows-1252, CRLF, « ;; » at each line's end."""
    raw = pathlib.Path(EXCEL_SAMPLE).read_bytes()
    assert b"\r\n" in raw and b";;\r\n" in raw and "LEFÈVRE".encode("cp1252") in raw
    refused = runner.invoke(args=["voters", "import", EXCEL_SAMPLE])
    assert refused.exit_code == 1 and "--encoding cp1252" in refused.stderr
    result = runner.invoke(args=["voters", "import", EXCEL_SAMPLE, "--encoding", "cp1252"])
    assert result.exit_code == 0, result.output
    voters = {v.identifiant: v for v in all_voters(app)}
    assert len(voters) == 6
    assert voters["E0005"].nom == "LEFÈVRE" and voters["E0005"].prenoms == "Hélène Marie"
    assert voters["E0006"].nom == "GARCIA-NOËL" and voters["E0006"].prenoms == "Antoine Cœur"
    assert voters["E0004"].prenoms == "Thi Lan Lætitia"
    assert voters["E0004"].scrutin_names == ["Commission consultative paritaire ; agents contractuels"]
    assert voters["E0001"].scrutin_names[0] == "CAP académique — professeurs certifiés"


def test_a_utf8_file_read_as_cp1252_is_refused(app):
    report = run_import(app, csv_bytes(GOOD.replace("DUBOIS", "LEFÈVRE")), encoding="cp1252")
    assert messages(report) == [f"ligne 2 : {source.LOOKS_UTF8}"]
    assert all_voters(app) == []


def test_a_bom_means_utf8_whatever_the_option(app):
    report = run_import(app, csv_bytes(GOOD.replace("DUBOIS", "LEFÈVRE"), bom=True), encoding="cp1252")
    assert report.ok and all_voters(app)[0].nom == "LEFÈVRE"


def test_a_file_in_neither_encoding_says_what_to_do(app):
    data = csv_bytes(GOOD).replace(b"DUBOIS", b"DUB\x81OIS")  # 0x81: undefined in Windows-1252
    report = run_import(app, data, encoding="cp1252")
    assert messages(report) == [f"ligne 2 : {source.not_decodable('cp1252')}"]
    assert "CSV UTF-8" in report.errors[0].message


def test_a_utf16_file_is_explained(app):
    report = run_import(app, ("\ufeff" + HEADER + "\n" + GOOD + "\n").encode("utf-16"))
    assert messages(report) == [f"ligne 1 : {source.UTF16}"]


@pytest.mark.parametrize("header_end, row_end", [(";;;", ";;;"), ("", ";;"), (";", ""), (";;", "; ;")])
def test_empty_trailing_columns_are_accepted(app, header_end, row_end):
    report = run_import(app, csv_bytes(GOOD + row_end, SECOND + row_end, header=HEADER + header_end))
    assert report.ok, messages(report)
    assert [v.identifiant for v in all_voters(app)] == ["E0001", "E0002"]


def test_a_filled_cell_past_the_last_column_is_refused(app):
    report = run_import(app, csv_bytes(GOOD + ";;en trop", header=HEADER + ";;"))
    assert messages(report) == ["ligne 2 : 9 colonnes attendues, 11 trouvées"]


def test_an_empty_column_name_between_columns_is_still_refused(app):
    report = run_import(app, csv_bytes(GOOD, header=HEADER.replace(";nom;", ";;nom;")))
    assert "colonnes inconnues : (vide)" in messages(report)[0]
