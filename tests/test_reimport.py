"""Re-import that cannot surprise (issue 17 item 4): the dry run says what would change — new,
changed (by field name, never a value), unchanged, absent — and the import the same counts;
absent voters reported and deactivated only when asked; e-mail swaps within one file; short
transactions that never hold the voters long; one bad row and nothing changes."""

from __future__ import annotations

import math
import pathlib
import re
import urllib.parse

import pytest
from sqlalchemy import event, make_url, select, text
from sqlalchemy.orm import Session

from reassort import importer
from reassort.storage.database import make_engine
from reassort.storage.models import AuditEvent
from reassort.web.extensions import db
from tests.test_import import NUMEN, all_voters, csv_bytes, run_import

pytestmark = pytest.mark.each_database

ROOT = pathlib.Path(__file__).resolve().parent.parent


def row(n: int, nom: str = "NOM", email: str | None = None, scrutins: str = "CAP", prenoms: str = "Prénom",
        numen: str = NUMEN) -> str:
    return f"E{n:04d};{nom};{prenoms};1970-01-01;;{email or f'p{n}@ac-paris.fr'};{numen};;{scrutins}"


def register_of(app) -> dict[str, tuple]:
    return {v.identifiant: (v.id, v.nom, v.prenoms, v.email, v.numen_digest, tuple(v.scrutin_names))
            for v in all_voters(app)}


def cli_import(runner, tmp_path, data: bytes, *options):
    path = tmp_path / "electeurs.csv"
    path.write_bytes(data)
    return runner.invoke(args=["voters", "import", str(path), *options])


def counts_of(output: str) -> list[str]:
    """The report's lines of counts (the same with and without --dry-run)."""
    return [line for line in output.splitlines() if line.startswith("  ")]


def test_reimport_dry_run_names_changed_fields_without_values(app, runner, tmp_path):
    assert run_import(app, csv_bytes(row(1), row(2), row(3))).ok
    changed = csv_bytes(row(1, nom="DURAND-SECRET"), row(2, email="nouvelle.adresse@ac-paris.fr", scrutins="CSA"),
                        row(3))
    before = register_of(app)
    result = cli_import(runner, tmp_path, changed, "--dry-run")
    assert result.exit_code == 0, result.output
    assert counts_of(result.output)[:3] == [
        "  nouveaux électeurs : 0",
        "  modifiés : 2 (nom : 1, adresse électronique : 1, scrutins : 1)",
        "  inchangés : 1"]
    assert "Rien n'a été écrit (--dry-run)." in result.output
    for value in ("DURAND", "SECRET", "nouvelle.adresse", "CSA", "p1@", "NOM"):
        assert value not in result.output  # field names only, never a value
    assert register_of(app) == before


def test_reimport_prints_the_same_counts_as_its_dry_run(app, runner, tmp_path):
    assert run_import(app, csv_bytes(*(row(n) for n in range(1, 8)))).ok
    new_file = csv_bytes(row(1, prenoms="Autre"), row(2), row(3, scrutins="CAP|CSA"), row(4), row(9), row(10))
    dry = cli_import(runner, tmp_path, new_file, "--dry-run")
    real = cli_import(runner, tmp_path, new_file)
    assert dry.exit_code == real.exit_code == 0, (dry.output, real.output)
    assert counts_of(dry.output) == counts_of(real.output)
    assert counts_of(real.output)[:4] == ["  nouveaux électeurs : 2", "  modifiés : 2 (prénoms : 1, scrutins : 1)",
                                          "  inchangés : 2", "  absents du fichier : 3"]
    again = cli_import(runner, tmp_path, new_file, "--dry-run")
    assert counts_of(again.output)[:3] == ["  nouveaux électeurs : 0", "  modifiés : 0", "  inchangés : 6"]


def test_reimport_counts_only_the_voters_that_changed(app):
    """« mis à jour : 299 999 » when 100 changed: now 100 changed, the rest unchanged, and not written."""
    rows = [row(n) for n in range(1, 301)]
    assert run_import(app, csv_bytes(*rows)).ok
    for n in range(0, 300, 3):
        rows[n] = row(n + 1, nom="CHANGÉ")
    statements = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", _keep_statement(statements))
        report = run_import(app, csv_bytes(*rows), batch=40)
        event.remove(db.engine, "before_cursor_execute", _keep_statement(statements))
    assert (report.created, report.changed, report.unchanged, report.fields) == (0, 100, 200, {"nom": 100})
    updates = [params for sql, params in statements if sql.lstrip().upper().startswith("UPDATE VOTERS")]
    assert len(updates) == math.ceil(100 / 40)  # the 100 only, 40 per transaction
    assert sum(1 for v in all_voters(app) if v.nom == "CHANGÉ") == 100


_listeners: dict = {}


def _keep_statement(statements):
    key = id(statements)
    if key not in _listeners:
        def keep(conn, cursor, statement, parameters, context, executemany):
            statements.append((statement, parameters))
        _listeners[key] = keep
    return _listeners[key]


def test_voters_absent_from_the_file_are_reported_and_stay_active(app, runner, tmp_path):
    assert run_import(app, csv_bytes(row(1), row(2), row(3))).ok
    result = cli_import(runner, tmp_path, csv_bytes(row(1)))
    assert result.exit_code == 0, result.output
    lines = counts_of(result.output)
    assert "  absents du fichier : 2" in lines
    assert any("--deactivate-absent" in line for line in lines)
    assert any(line.strip() == "identifiants absents : E0002, E0003" for line in lines)
    assert all(v.deactivated_at is None for v in all_voters(app))


def test_deactivate_absent_option_deactivates_them_audited(app, runner, tmp_path):
    assert run_import(app, csv_bytes(row(1), row(2), row(3))).ok
    dry = cli_import(runner, tmp_path, csv_bytes(row(1)), "--dry-run", "--deactivate-absent")
    assert "  seraient désactivés (--deactivate-absent) : 2" in counts_of(dry.output)
    assert all(v.deactivated_at is None for v in all_voters(app))
    result = cli_import(runner, tmp_path, csv_bytes(row(1)), "--deactivate-absent")
    assert result.exit_code == 0, result.output
    assert "  désactivés (--deactivate-absent) : 2" in counts_of(result.output)
    voters = {v.identifiant: v for v in all_voters(app)}
    assert voters["E0001"].deactivated_at is None
    assert voters["E0002"].deactivated_at is not None and voters["E0003"].deactivated_at is not None
    with app.app_context():
        with db.new_session() as s:
            rows = s.execute(select(AuditEvent.voter_id, AuditEvent.detail)
                             .where(AuditEvent.event == "voter_deactivated")).all()
    assert sorted(rows) == sorted((voters[i].id, importer.ABSENT_DETAIL) for i in ("E0002", "E0003"))
    again = cli_import(runner, tmp_path, csv_bytes(row(1), row(2)), "--dry-run")
    lines = counts_of(again.output)
    assert "  absents du fichier : 0 (et 1 déjà désactivé(s))" in lines
    assert any(line.startswith("  dans le fichier mais désactivés : 1") for line in lines)


def test_email_swap_within_one_file(app):
    assert run_import(app, csv_bytes(row(1, email="a@ac-paris.fr"), row(2, email="b@ac-paris.fr"))).ok
    report = run_import(app, csv_bytes(row(1, email="b@ac-paris.fr"), row(2, email="a@ac-paris.fr")))
    assert report.ok, [str(e) for e in report.errors]
    assert (report.changed, report.fields) == (2, {"email": 2})
    assert {v.identifiant: v.email for v in all_voters(app)} == {"E0001": "b@ac-paris.fr", "E0002": "a@ac-paris.fr"}


def test_email_rotation_and_a_new_voter_taking_a_freed_address(app):
    first = [row(1, email="a@x.fr"), row(2, email="b@x.fr"), row(3, email="c@x.fr"), row(4, email="d@x.fr")]
    assert run_import(app, csv_bytes(*first)).ok
    # 1→2→3→1 rotate; 4 gives d up for e, and the new voter 5 takes d.
    second = [row(1, email="b@x.fr"), row(2, email="c@x.fr"), row(3, email="a@x.fr"), row(4, email="e@x.fr"),
              row(5, email="d@x.fr")]
    report = run_import(app, csv_bytes(*second), batch=1)
    assert report.ok, [str(e) for e in report.errors]
    assert (report.created, report.changed) == (1, 4)
    assert {v.identifiant: v.email for v in all_voters(app)} == {
        "E0001": "b@x.fr", "E0002": "c@x.fr", "E0003": "a@x.fr", "E0004": "e@x.fr", "E0005": "d@x.fr"}
    assert not any(v.email.startswith("~") for v in all_voters(app))  # no placeholder left


def test_a_bad_row_in_a_reimport_changes_nothing(app):
    rows = [row(n) for n in range(1, 51)]
    assert run_import(app, csv_bytes(*rows)).ok
    before = register_of(app)
    changed = [row(n, nom="CHANGÉ") for n in range(1, 51)] + [row(60), "E0061;X;Y;1970-02-30;;z@x.fr;;;CAP"]
    report = run_import(app, csv_bytes(*changed), batch=5, chunk_bytes=300, workers=2)
    assert {e.line for e in report.errors} == {53}
    assert (report.created, report.changed) == (0, 0)
    assert register_of(app) == before


def test_reimport_keeps_what_the_voters_made(app, make_voter):
    voter_id = make_voter(identifiant="E0001", email="p1@ac-paris.fr", challenge_failures=2)
    before = next(v for v in all_voters(app) if v.id == voter_id)
    assert run_import(app, csv_bytes(row(1, nom="AUTRE"))).ok
    after = next(v for v in all_voters(app) if v.id == voter_id)
    assert after.nom == "AUTRE"
    for name in ("password_hash", "answer_hash", "question_id", "code_digest", "challenge_failures",
                 "link_generation", "session_epoch", "activation_generation"):
        assert getattr(after, name) == getattr(before, name), name


def test_reimport_writes_in_transactions_of_batch_voters(app):
    assert run_import(app, csv_bytes(*(row(n) for n in range(1, 21)))).ok
    commits = []

    def count(conn):
        commits.append(conn)

    with app.app_context():
        event.listen(db.engine, "commit", count)
        try:
            report = run_import(app, csv_bytes(*(row(n, nom="X") for n in range(1, 21)), row(30), row(31)),
                                batch=3)
        finally:
            event.remove(db.engine, "commit", count)
    assert report.ok and (report.created, report.changed) == (2, 20)
    # The staging, then 1 transaction of new voters and 7 of at most 3 changed voters, then the end.
    assert len(commits) >= 1 + 7 + 1


def test_the_sample_environment_sets_lock_and_statement_timeouts():
    env = (ROOT / "deploy" / "reassort.env.example").read_text(encoding="utf-8")
    url = re.search(r"^REASSORT_DATABASE_URL='([^']+)'", env, re.M).group(1)
    options = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["options"][0]
    settings = dict(re.findall(r"-c\s*(\w+)=(\w+)", options))
    assert settings["lock_timeout"] and settings["statement_timeout"]
    assert _milliseconds(settings["lock_timeout"]) < _milliseconds(settings["statement_timeout"]) < 30_000
    assert "connect_timeout=" in url


def _milliseconds(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(ms|s)?", value).groups()
    return int(number) * (1000 if unit == "s" else 1)


# -- PostgreSQL: locks and timeouts --------------------------------------------------------

def _postgres_only(settings):
    if not settings["DATABASE_URL"].startswith("postgresql"):
        pytest.skip("PostgreSQL : verrous de lignes et délais")


def test_reimport_holds_the_rows_of_one_batch_at_a_time(app, settings):
    """While a batch is written, a voter of another batch can be updated at once (lock_timeout 200 ms);
    only the voters of the batch being written wait, for that batch only."""
    _postgres_only(settings)
    assert run_import(app, csv_bytes(*(row(n) for n in range(1, 11)))).ok
    ids = {v.identifiant: v.id for v in all_voters(app)}
    seen = []

    def during_first_batch(conn, cursor, statement, parameters, context, executemany):
        if seen or not statement.lstrip().upper().startswith("UPDATE VOTERS SET NOM"):
            return
        seen.append(statement)
        with db.engine.connect() as other:
            other.execute(text("SET lock_timeout = '200ms'"))
            other.execute(text("UPDATE voters SET challenge_failures = 3 WHERE id = :id"), {"id": ids["E0010"]})
            other.commit()
            with pytest.raises(Exception, match="lock"):
                other.execute(text("UPDATE voters SET challenge_failures = 3 WHERE id = :id"), {"id": ids["E0001"]})
            other.rollback()

    with app.app_context():
        event.listen(db.engine, "after_cursor_execute", during_first_batch)
        try:
            report = run_import(app, csv_bytes(*(row(n, nom="X") for n in range(1, 11))), batch=2)
        finally:
            event.remove(db.engine, "after_cursor_execute", during_first_batch)
    assert report.ok and report.changed == 10 and seen
    voters = {v.identifiant: v for v in all_voters(app)}
    assert voters["E0010"].nom == "X" and voters["E0010"].challenge_failures == 3  # both kept


def test_an_import_runs_without_statement_timeout_and_gives_it_back(app, settings):
    """DATABASE_URL's statement_timeout protects the voters' requests; the import's own long
    statements run without it, and its connection goes back to the pool with it."""
    _postgres_only(settings)
    url = make_url(settings["DATABASE_URL"])
    url = url.update_query_dict({"options": url.query["options"] + " -c statement_timeout=4s"})
    engine = make_engine(url.render_as_string(hide_password=False))
    inside = []

    def show(conn, cursor, statement, parameters, context, executemany):
        if "max(voters.id)" in statement and not inside:  # the import's own first statements
            cursor.execute("SHOW statement_timeout")
            inside.append(cursor.fetchone()[0])

    event.listen(engine, "after_cursor_execute", show)
    try:
        with app.app_context(), Session(engine) as session:
            report = importer.import_voters(session, csv_bytes(row(1)), app.config["HASH_PEPPER"])
        with engine.connect() as conn:
            after = conn.execute(text("SHOW statement_timeout")).scalar()
    finally:
        engine.dispose()
    assert report.ok and inside == ["0"] and after == "4s"


def test_a_second_import_at_once_is_refused(app, settings):
    """One import at a time per schema; the refused one leaves its connection's timeouts as they were."""
    _postgres_only(settings)
    assert run_import(app, csv_bytes(row(1))).ok
    url = make_url(settings["DATABASE_URL"])
    engine = make_engine(url.update_query_dict({"options": url.query["options"] + " -c statement_timeout=4s"})
                         .render_as_string(hide_password=False))
    try:
        with app.app_context(), engine.connect() as other, Session(engine) as session:
            other.execute(text(f"SELECT pg_advisory_lock{importer.LOCK_KEY}"), {"key": importer.PG_IMPORT_LOCK})
            other.commit()
            report = importer.import_voters(session, csv_bytes(row(1, nom="Z")), app.config["HASH_PEPPER"])
            other.execute(text(f"SELECT pg_advisory_unlock{importer.LOCK_KEY}"), {"key": importer.PG_IMPORT_LOCK})
            other.commit()
            with engine.connect() as conn:  # the connection the refused import had
                assert conn.execute(text("SHOW statement_timeout")).scalar() == "4s"
    finally:
        engine.dispose()
    assert [e.message for e in report.errors] == [importer.BUSY]
    assert all_voters(app)[0].nom == "NOM"
    assert run_import(app, csv_bytes(row(1, nom="Z"))).ok


def test_a_scrutin_dropped_counts_as_a_change_and_is_written(app):
    assert run_import(app, csv_bytes(row(1, scrutins="CAP|CSA"), row(2, scrutins="CAP"))).ok
    report = run_import(app, csv_bytes(row(1, scrutins="CAP"), row(2, scrutins="CAP")))
    assert (report.changed, report.unchanged, report.fields) == (1, 1, {"scrutins": 1})
    assert [v.scrutin_names for v in all_voters(app)] == [["CAP"], ["CAP"]]


def test_sec46_every_import_path_gives_new_voters_random_generations(app):
    # A first import (straight into the register), then a re-import adding voters (staged).
    run_import(app, csv_bytes(*(row(n) for n in range(1, 41))))
    run_import(app, csv_bytes(*(row(n) for n in range(1, 81))))
    voters = all_voters(app)
    assert len(voters) == 80
    for column in ("link_generation", "activation_generation"):
        values = [getattr(v, column) for v in voters]
        assert all(0 < value < 2**31 for value in values), column
        assert len(set(values)) > 75, column  # drawn, not a constant nor a counter
