"""``purge`` after the election (SPEC §3): what it erases, and its two guards (issue 17 §6).

Guards: the poll must have a closing date in the past (``purge --confirm`` with
``ELECTION_CLOSES_AT`` empty once erased everything at once), and the election's
title must be typed or given (``--confirm-title``).  A bad export path is a clear
message before anything is erased; the export is a new 0600 file.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import stat

import pytest
from sqlalchemy import func, select

from reassort.procedures import audit
from reassort.storage.models import AuditEvent, CaptchaChallenge, Scrutin, Voter
from reassort.web.extensions import db
from tests.conftest import get_voter, login

TITLE = "Élections professionnelles 2026 — ministère"


def instant(clock, seconds: float) -> str:
    return dt.datetime.fromtimestamp(clock() + seconds, dt.timezone.utc).isoformat()


@pytest.fixture
def settings(settings, clock):
    """A poll closed an hour ago, under its own title."""
    settings.update(ELECTION_OPENS_AT=instant(clock, -8 * 86400), ELECTION_CLOSES_AT=instant(clock, -3600),
                    ELECTION_TITLE=TITLE)
    return settings


@pytest.fixture
def election_data(app, make_voter):
    """Two voters with their scrutins, a CAPTCHA row and three audit events."""
    voters = [make_voter(), make_voter()]
    with app.app_context():
        with db.new_session() as s:
            s.add(CaptchaChallenge(id="c" * 43, expires_at=2_000_000_000))
            for voter_id in voters:
                audit.record(s, "login_ok", voter_id)
            audit.record(s, "codes_issued", None, "2")
            s.commit()
    return voters


def table_counts(app) -> dict:
    with app.app_context():
        with db.new_session() as s:
            return {model.__tablename__: s.scalar(select(func.count()).select_from(model))
                    for model in (Voter, Scrutin, CaptchaChallenge, AuditEvent)}


def audit_events(app) -> list[tuple[str, str | None]]:
    with app.app_context():
        with db.new_session() as s:
            return [(e.event, e.detail) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def purge(runner, *args, title=TITLE, **kwargs):
    return runner.invoke(args=["purge", *(["--confirm-title", title] if title is not None else []), *args],
                         **kwargs)


# --- what it erases ---------------------------------------------------------------------------

def test_purge_erases_voters_secrets_and_captcha_and_keeps_the_audit(app, runner, election_data):
    result = purge(runner)
    assert result.exit_code == 0, result.output
    assert table_counts(app) == {"voters": 0, "scrutins": 0, "captcha_challenges": 0, "audit_events": 4}
    assert audit_events(app)[-1] == ("purge", "audit conservé")
    assert "électeurs effacés : 2" in result.output
    assert "inscriptions aux scrutins effacés : 4" in result.output
    assert "CAPTCHA effacés : 1" in result.output


def test_purge_keep_audit_is_the_default(app, runner, election_data):
    assert purge(runner, "--keep-audit").exit_code == 0
    assert [event for event, _ in audit_events(app)] == ["login_ok", "login_ok", "codes_issued", "purge"]


def test_purge_exports_then_deletes_the_audit_in_a_0600_file(app, runner, election_data, tmp_path):
    export = tmp_path / "audit-final.csv"
    old_umask = os.umask(0o022)  # what an operator's shell often has
    try:
        result = purge(runner, "--export-audit", str(export))
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(os.stat(export).st_mode) == 0o600
    with open(export, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[0] == ["date_utc", "evenement", "votant_id", "ip_hachee", "detail"]
    assert [row[1] for row in rows[1:]] == ["login_ok", "login_ok", "codes_issued"]
    assert audit_events(app) == [("purge", "audit exporté puis effacé")]
    assert table_counts(app)["voters"] == 0


def test_purge_keep_and_export_are_exclusive(app, runner, election_data, tmp_path):
    result = purge(runner, "--keep-audit", "--export-audit", str(tmp_path / "a.csv"))
    assert result.exit_code != 0
    assert table_counts(app)["voters"] == 2


def test_after_purge_the_voter_can_no_longer_log_in(app, client, runner, election_data):
    email = get_voter(app, election_data[0]).email
    assert purge(runner).exit_code == 0
    response = login(client, email)
    assert response.status_code == 200  # the login page again, with the generic error


# --- guard 1: a closing date in the past -----------------------------------------------------

def test_purge_refused_without_a_closing_date(settings, request):
    settings["ELECTION_CLOSES_AT"] = None
    app = request.getfixturevalue("app")
    request.getfixturevalue("election_data")
    result = purge(app.test_cli_runner())
    assert result.exit_code == 1 and "ELECTION_CLOSES_AT est vide" in result.stderr
    assert "Rien n'a été effacé" in result.stderr
    assert table_counts(app)["voters"] == 2


def test_purge_refused_before_the_poll_closes(settings, clock, request):
    settings["ELECTION_CLOSES_AT"] = instant(clock, 3600)
    app = request.getfixturevalue("app")
    request.getfixturevalue("election_data")
    runner = app.test_cli_runner()
    result = purge(runner)
    assert result.exit_code == 1 and "pas clos" in result.stderr
    assert table_counts(app)["voters"] == 2
    clock.advance(3600)
    assert purge(runner).exit_code == 0
    assert table_counts(app)["voters"] == 0


# --- guard 2: the election's title, typed or given ---------------------------------------------

def test_purge_asks_for_the_title_to_be_typed(app, runner, election_data):
    result = purge(runner, title=None, input=TITLE + "\n")
    assert result.exit_code == 0, result.output
    assert f"Effacement définitif des électeurs de « {TITLE} »" in result.output
    assert table_counts(app)["voters"] == 0


@pytest.mark.parametrize("typed", ["", "Élections professionnelles 2026", "oui", "élections professionnelles 2026 "
                                   "— ministère"], ids=["nothing", "part", "yes", "case"])
def test_purge_refused_when_the_title_typed_is_not_the_title(app, runner, election_data, typed):
    result = purge(runner, title=None, input=typed + "\n")
    assert result.exit_code == 1 and "Titre non confirmé" in result.stderr
    assert table_counts(app)["voters"] == 2


def test_purge_confirm_alone_is_not_enough(app, runner, election_data):
    # Nothing typed: the end of input, as under a script.
    result = runner.invoke(args=["purge", "--confirm"], input="")
    assert result.exit_code == 1 and "--confirm ne suffit plus" in result.stderr
    assert table_counts(app)["voters"] == 2


def test_purge_wrong_confirm_title_erases_nothing(app, runner, election_data):
    assert purge(runner, title="Élections de démonstration").exit_code == 1
    assert table_counts(app)["voters"] == 2


# --- the export path is checked before anything is erased ------------------------------------

@pytest.mark.parametrize("where, message", [
    ("absent/audit.csv", "dossier introuvable"),
    ("existing.csv", "existe déjà"),
    (".", "est un dossier"),
    ("locked/audit.csv", "écriture interdite"),
], ids=["missing-folder", "existing-file", "a-folder", "read-only-folder"])
def test_purge_bad_export_path_is_said_before_anything_is_erased(app, runner, election_data, tmp_path,
                                                                 where, message, monkeypatch):
    (tmp_path / "existing.csv").write_text("déjà là\n", encoding="utf-8")
    (tmp_path / "locked").mkdir()
    real_access = os.access
    # Root may write anywhere: say the folder refuses, as it would to the reassort user.
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p).endswith("locked") else real_access(p, m))
    result = purge(runner, "--export-audit", str(tmp_path / where))
    assert result.exit_code == 1 and message in result.stderr and "Rien n'a été effacé" in result.stderr
    assert "Traceback" not in result.output
    assert table_counts(app)["voters"] == 2 and len(audit_events(app)) == 3
    assert (tmp_path / "existing.csv").read_text(encoding="utf-8") == "déjà là\n"


def test_purge_export_failing_midway_erases_nothing(app, runner, election_data, tmp_path, monkeypatch):
    def disk_full(session, out):
        out.write("date_utc;")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(audit, "export_csv", disk_full)
    export = tmp_path / "audit.csv"
    result = purge(runner, "--export-audit", str(export))
    assert result.exit_code == 1 and "écriture interrompue" in result.stderr
    assert not export.exists()
    assert table_counts(app)["voters"] == 2 and len(audit_events(app)) == 3


def test_audit_export_file_is_0600_even_over_an_existing_file(app, runner, election_data, tmp_path):
    out = tmp_path / "audit.csv"
    out.write_text("ancien\n", encoding="utf-8")
    os.chmod(out, 0o644)
    assert runner.invoke(args=["audit", "export", "--out", str(out)]).exit_code == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
