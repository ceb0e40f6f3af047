"""Codes that cannot be lost (issue 17 §5): a notices file is never replaced; a lost batch is re-issued.

``codes issue --force`` once wrote the codes of 3 late voters over a file that
held 6,028 printable ones.  Now no notices file is ever replaced, and
``codes reissue IDENT… --out FILE`` gives new codes to the voters of a lost or
misprinted batch, the old ones dead at once, each change audited with who and why.
"""

from __future__ import annotations

import csv
import os
import stat

import pytest
from sqlalchemy import select, update

from reassort.cli import codes as codes_cmd
from reassort.procedures import votegate
from reassort.storage.models import AuditEvent, Voter
from reassort.web.extensions import db
from tests.conftest import CODE, get_voter

pytestmark = pytest.mark.each_database

REISSUE = ["--operator", "c.martin", "--reason", "lot 3 perdu par La Poste"]


def read_notices(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def code_works(app, voter_id, code) -> bool:
    with app.app_context():
        return votegate.code_matches(get_voter(app, voter_id), code)


def audit_rows(app, event) -> list[tuple]:
    with app.app_context():
        with db.new_session() as s:
            return [(e.voter_id, e.detail) for e in s.scalars(select(AuditEvent).where(AuditEvent.event == event))]


def leftovers(folder) -> list[str]:
    return [n for n in os.listdir(folder) if n.startswith(".codes-")]


# --- codes issue never replaces a notices file ----------------------------------------------

def test_codes_issue_force_is_gone_and_the_file_kept(runner, app, tmp_path, make_voter):
    voter_id = make_voter(code=None)
    out = tmp_path / "notices.csv"
    out.write_text("6 028 codes imprimables\n")
    result = runner.invoke(args=["codes", "issue", "--out", str(out), "--force"])
    assert result.exit_code == 1 and "--force n'existe plus" in result.stderr
    assert out.read_text() == "6 028 codes imprimables\n"
    assert get_voter(app, voter_id).code_digest is None


def test_codes_issue_fills_an_empty_file_made_beforehand(runner, app, tmp_path, make_voter):
    voter_id = make_voter(code=None)
    out = tmp_path / "notices.csv"
    out.touch(mode=0o600)
    assert runner.invoke(args=["codes", "issue", "--out", str(out)]).exit_code == 0
    notices = read_notices(out)
    assert [n["identifiant"] for n in notices] == [get_voter(app, voter_id).identifiant]
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert leftovers(tmp_path) == []


def test_codes_issue_never_replaces_a_file_that_appears_meanwhile(runner, app, tmp_path, make_voter, monkeypatch):
    voter_id = make_voter(code=None)
    out = tmp_path / "notices.csv"
    real_write = codes_cmd.write_new_codes

    def and_meanwhile(session, fh):
        count = real_write(session, fh)
        out.write_text("un autre lot\n")  # another run, another operator
        return count

    monkeypatch.setattr(codes_cmd, "write_new_codes", and_meanwhile)
    result = runner.invoke(args=["codes", "issue", "--out", str(out)])
    assert result.exit_code == 1 and "créé entre-temps et n'a pas été remplacé" in result.stderr
    assert out.read_text() == "un autre lot\n"
    # The codes were committed: their only copy is kept, and named.
    [kept] = leftovers(tmp_path)
    assert kept in result.stderr
    [notice] = read_notices(tmp_path / kept)
    assert code_works(app, voter_id, notice["code_de_vote"])


# --- codes reissue ------------------------------------------------------------------------------

def test_codes_reissue_gives_new_codes_and_the_old_ones_die_at_once(runner, app, tmp_path, make_voter):
    lost = [make_voter(), make_voter()]
    kept = make_voter()
    before = {v: get_voter(app, v) for v in lost}
    out = tmp_path / "notices-lot3.csv"
    result = runner.invoke(args=["codes", "reissue", *[before[v].identifiant for v in lost], "--out", str(out),
                                 *REISSUE])
    assert result.exit_code == 0, result.output
    assert "Codes réémis : 2" in result.stdout
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    notices = {n["identifiant"]: n for n in read_notices(out)}
    assert set(notices) == {before[v].identifiant for v in lost}
    for voter_id in lost:
        notice = notices[before[voter_id].identifiant]
        after = get_voter(app, voter_id)
        assert (notice["nom"], notice["prenoms"]) == (after.nom, after.prenoms)
        assert not code_works(app, voter_id, CODE) and code_works(app, voter_id, notice["code_de_vote"])
        # Its réassort links and sessions go with the old code, as at a regeneration.
        assert after.link_generation != before[voter_id].link_generation
        assert after.session_epoch == before[voter_id].session_epoch + 1
    assert code_works(app, kept, CODE)
    assert sorted(audit_rows(app, "code_reissued")) == sorted(
        (v, "operateur=c.martin motif=lot 3 perdu par La Poste") for v in lost)


def test_codes_reissue_logs_out_whoever_opened_a_session(runner, app, logged_in, tmp_path):
    client, voter_id, _email = logged_in
    assert client.get("/vote").status_code == 200
    ident = get_voter(app, voter_id).identifiant
    assert runner.invoke(args=["codes", "reissue", ident, "--out", str(tmp_path / "n.csv"), *REISSUE]).exit_code == 0
    assert client.get("/vote").status_code == 302


def test_codes_reissue_reads_the_identifiants_of_a_notices_file(runner, app, tmp_path, make_voter):
    voters = [get_voter(app, make_voter(code=None)) for _ in range(3)]
    first = tmp_path / "notices.csv"
    assert runner.invoke(args=["codes", "issue", "--out", str(first)]).exit_code == 0
    misprinted = read_notices(first)
    again = tmp_path / "notices-reimpression.csv"
    result = runner.invoke(args=["codes", "reissue", "--from", str(first), "--out", str(again), *REISSUE])
    assert result.exit_code == 0, result.output
    reprinted = read_notices(again)
    assert [n["identifiant"] for n in reprinted] == [v.identifiant for v in voters]
    for old, new, voter in zip(misprinted, reprinted, voters, strict=True):
        assert not code_works(app, voter.id, old["code_de_vote"]) and code_works(app, voter.id, new["code_de_vote"])


def test_codes_reissue_with_an_unknown_identifiant_changes_nothing(runner, app, tmp_path, make_voter):
    voter_id = make_voter()
    ident = get_voter(app, voter_id).identifiant
    out = tmp_path / "n.csv"
    result = runner.invoke(args=["codes", "reissue", ident, "E99999", "--out", str(out), *REISSUE])
    assert result.exit_code == 1 and "inconnu(s) : E99999" in result.stderr and "aucun code" in result.stderr
    assert code_works(app, voter_id, CODE) and not out.exists() and leftovers(tmp_path) == []
    assert audit_rows(app, "code_reissued") == []


def test_codes_reissue_never_replaces_a_notices_file(runner, app, tmp_path, make_voter):
    ident = get_voter(app, make_voter()).identifiant
    out = tmp_path / "notices.csv"
    out.write_text("lot déjà imprimé\n")
    result = runner.invoke(args=["codes", "reissue", ident, "--out", str(out), *REISSUE])
    assert result.exit_code == 1 and "jamais remplacé" in result.stderr
    assert out.read_text() == "lot déjà imprimé\n"


@pytest.mark.parametrize("options, message", [
    (["--operator", "claire.martin@ac-paris.fr", "--reason", "lot perdu"], "--operator"),
    (["--operator", "Claire Martin", "--reason", "lot perdu"], "--operator"),
    (["--operator", "c.martin", "--reason", "x"], "--reason"),
    (["--operator", "c.martin", "--reason", "r" * 201], "--reason"),
    (["--operator", "c.martin", "--reason", "lot de claire.martin@ac-paris.fr"], "--reason"),
], ids=["operator-is-an-address", "operator-is-not-a-login", "reason-too-short", "reason-too-long",
        "reason-holds-an-address"])
def test_codes_reissue_needs_who_and_why(runner, app, tmp_path, make_voter, options, message):
    voter_id = make_voter()
    ident = get_voter(app, voter_id).identifiant
    result = runner.invoke(args=["codes", "reissue", ident, "--out", str(tmp_path / "n.csv"), *options])
    assert result.exit_code == 1 and message in result.stderr
    assert code_works(app, voter_id, CODE)
    missing = runner.invoke(args=["codes", "reissue", ident, "--out", str(tmp_path / "n.csv")])
    assert missing.exit_code == 2 and "--operator" in missing.output


def test_codes_reissue_refused_once_the_poll_has_closed(settings, request, tmp_path):
    settings["ELECTION_CLOSES_AT"] = "2000-01-01T00:00:00+00:00"
    app = request.getfixturevalue("app")
    voter_id = request.getfixturevalue("make_voter")()
    result = app.test_cli_runner().invoke(args=["codes", "reissue", get_voter(app, voter_id).identifiant,
                                                "--out", str(tmp_path / "n.csv"), *REISSUE])
    assert result.exit_code == 1 and "clos" in result.stderr
    assert code_works(app, voter_id, CODE)


def test_codes_reissue_all_or_nothing_when_a_code_changes_meanwhile(runner, app, tmp_path, make_voter, monkeypatch):
    voters = [make_voter(), make_voter()]
    idents = [get_voter(app, v).identifiant for v in voters]
    real_code = codes_cmd.printable_code
    calls = []

    def and_a_reassort_meanwhile():
        calls.append(1)
        # The second voter regenerates their code after the lookup, before the first write
        # (later, SQLite would make that writer wait for this run: no race there).
        if len(calls) == 1:
            with app.app_context():
                with db.new_session() as s:
                    s.execute(update(Voter).where(Voter.id == voters[1]).values(code_digest="x" * 64))
                    s.commit()
        return real_code()

    monkeypatch.setattr("reassort.cli.reissue.printable_code", and_a_reassort_meanwhile)
    result = runner.invoke(args=["codes", "reissue", *idents, "--out", str(tmp_path / "n.csv"), *REISSUE])
    assert result.exit_code == 1 and "relancez" in result.stderr
    assert code_works(app, voters[0], CODE)  # the first one's change was rolled back too
    assert not (tmp_path / "n.csv").exists() and leftovers(tmp_path) == []
    assert audit_rows(app, "code_reissued") == []
