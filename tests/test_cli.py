"""The IT team's command line (SPEC §3): voters import / send-activation, codes issue,
audit export / stats.  French messages, exit code 1 on errors, never a traceback."""

from __future__ import annotations

import csv
import io
import os
import re
import stat

import pytest
from sqlalchemy import select

from reassort.adapters import messaging
from reassort.procedures import accounts, audit, votegate
from reassort.storage.models import AuditEvent, Voter
from reassort.web.extensions import db
from tests.conftest import NIR10, NUMEN, csrf_of, get_voter, login
from tests.test_import import GOOD, SAMPLE, SECOND, csv_bytes

pytestmark = pytest.mark.each_database

PUBLIC_URL = "https://vote.example.fr"


def voters_by_identifiant(app) -> dict[str, Voter]:
    with app.app_context():
        session = db.new_session()
        voters = {v.identifiant: v for v in session.scalars(select(Voter))}
        session.close()
        return voters


def audit_counts(app) -> dict[str, int]:
    with app.app_context():
        session = db.new_session()
        counts = audit.counts(session)
        session.close()
        return counts


def read_notices(path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def import_sample(runner) -> None:
    result = runner.invoke(args=["voters", "import", SAMPLE])
    assert result.exit_code == 0, result.output


# --- voters import ---------------------------------------------------------------

def test_import_command_reports_counts(runner, app):
    result = runner.invoke(args=["voters", "import", SAMPLE])
    assert result.exit_code == 0
    assert "Import terminé : 6 ligne(s).\n  nouveaux électeurs : 6\n  modifiés : 0\n" in result.stdout
    again = runner.invoke(args=["voters", "import", SAMPLE])
    assert "  nouveaux électeurs : 0\n  modifiés : 0\n  inchangés : 6\n" in again.stdout
    assert len(voters_by_identifiant(app)) == 6


def test_import_command_dry_run_writes_nothing(runner, app):
    result = runner.invoke(args=["voters", "import", SAMPLE, "--dry-run"])
    assert result.exit_code == 0
    assert "L'import ferait :\n  nouveaux électeurs : 6\n" in result.stdout and "Rien n'a été écrit" in result.stdout
    assert voters_by_identifiant(app) == {}


def test_import_command_lists_bad_rows_and_fails(runner, app, tmp_path):
    path = tmp_path / "electeurs.csv"
    path.write_bytes(csv_bytes(GOOD, "E0002;MARTIN;Jean;1978-02-30;69123;jean@ac-lyon.fr;;;CSA"))
    result = runner.invoke(args=["voters", "import", str(path)])
    assert result.exit_code == 1
    assert "ligne 3 : date de naissance invalide" in result.stderr
    assert "ligne 3 : ni NUMEN ni NIR" in result.stderr
    assert "rien n'a été écrit" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert voters_by_identifiant(app) == {}


@pytest.mark.parametrize("content, message", [
    (None, "Fichier introuvable"),
    ("LEFÈVRE".encode("cp1252"), "n'est pas encodé en UTF-8"),
    (b"nom;prenom\n", "en-tête"),
])
def test_import_command_explains_operator_mistakes(runner, tmp_path, content, message):
    path = tmp_path / "fichier.csv"
    if content is not None:
        path.write_bytes(content)
    result = runner.invoke(args=["voters", "import", str(path)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a crash


def test_import_command_without_schema_explains(settings, tmp_path):
    from app import create_app

    if not settings["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("an empty SQLite file stands for a database never set up")
    bare = create_app({**settings, "DATABASE_URL": f"sqlite:///{tmp_path}/vide.db"})
    result = bare.test_cli_runner().invoke(args=["voters", "import", SAMPLE])
    assert result.exit_code == 1
    assert "db upgrade" in result.stderr and "Traceback" not in result.output
    with bare.app_context():
        db.engine.dispose()


# --- voters send-activation -------------------------------------------------------

def test_send_activation_mails_each_new_voter_once(runner, app, outbox):
    import_sample(runner)
    started = {k: v.activation_generation for k, v in voters_by_identifiant(app).items()}
    result = runner.invoke(args=["voters", "send-activation"])
    assert result.exit_code == 0, result.output
    assert "Liens d'activation envoyés : 6 ; échecs : 0." in result.stdout
    mails = outbox()
    voters = voters_by_identifiant(app)
    assert sorted(m["to"] for m in mails) == sorted(v.email for v in voters.values())
    for mail in mails:
        assert mail["channel"] == "email" and mail["subject"] == "Activez votre compte électeur"
        assert re.search(re.escape(PUBLIC_URL) + r"/activation/[\w.-]+", mail["body"])
        assert "expire dans 7 jours" in mail["body"]
    assert all(v.activation_generation == started[k] + 1 and v.activation_sent_at for k, v in voters.items())
    assert audit_counts(app)["activation_sent"] == 6

    again = runner.invoke(args=["voters", "send-activation"])
    assert again.exit_code == 0 and "envoyés : 0" in again.stdout
    assert len(outbox()) == 6


def link_token(mail: dict) -> str:
    return re.search(r"/activation/([\w.-]+)", mail["body"]).group(1)


def test_activation_link_works_and_resend_voids_the_older(runner, app, outbox, clock):
    import_sample(runner)
    runner.invoke(args=["voters", "send-activation"])
    first = {m["to"]: link_token(m) for m in outbox()}
    with app.app_context():
        session = db.new_session()
        assert all(accounts.voter_for_activation(session, t) is not None for t in first.values())
        session.close()

    clock.advance(60)
    result = runner.invoke(args=["voters", "send-activation", "--resend"])
    assert "envoyés : 6" in result.stdout
    second = {m["to"]: link_token(m) for m in outbox()[6:]}
    with app.app_context():
        session = db.new_session()
        assert all(accounts.voter_for_activation(session, t) is None for t in first.values())
        assert all(accounts.voter_for_activation(session, t) is not None for t in second.values())
        session.close()


def test_send_activation_skips_activated_voters(runner, app, outbox, make_voter):
    make_voter(activated=True)
    waiting = make_voter(activated=False)
    result = runner.invoke(args=["voters", "send-activation", "--resend"])
    assert "envoyés : 1" in result.stdout
    assert [m["to"] for m in outbox()] == [get_voter(app, waiting).email]


def test_delivery_failure_is_counted_and_the_others_go_on(runner, app, outbox, monkeypatch):
    import_sample(runner)
    real_send = messaging.MAIL_BACKENDS["outbox"]

    def flaky(message, config):
        if message.to.startswith("thi-lan"):
            raise messaging.DeliveryError("SMTP : SMTPServerDisconnected")
        real_send(message, config)

    monkeypatch.setitem(messaging.MAIL_BACKENDS, "outbox", flaky)
    started = voters_by_identifiant(app)["E0004"].activation_generation
    result = runner.invoke(args=["voters", "send-activation"])
    assert result.exit_code == 1
    assert "envoyés : 5 ; échecs : 1" in result.stdout
    assert "E0004" in result.stderr and "SMTPServerDisconnected" in result.stderr
    failed = voters_by_identifiant(app)["E0004"]
    assert failed.activation_sent_at is None and failed.activation_generation == started

    monkeypatch.setitem(messaging.MAIL_BACKENDS, "outbox", real_send)
    retry = runner.invoke(args=["voters", "send-activation"])
    assert retry.exit_code == 0 and "envoyés : 1" in retry.stdout
    assert len(outbox()) == 6


# --- codes issue ----------------------------------------------------------------------

def test_codes_issue_writes_the_notices_file(runner, app, tmp_path):
    import_sample(runner)
    out = tmp_path / "notices.csv"
    result = runner.invoke(args=["codes", "issue", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Codes de vote générés : 6" in result.stdout
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode()) and raw.splitlines()[0].endswith(
        b"identifiant;nom;prenoms;code_de_vote")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    notices = read_notices(out)
    voters = voters_by_identifiant(app)
    assert sorted(n["identifiant"] for n in notices) == sorted(voters)
    with app.app_context():
        for notice in notices:
            voter = voters[notice["identifiant"]]
            assert (notice["nom"], notice["prenoms"]) == (voter.nom, voter.prenoms)
            assert votegate.code_matches(voter, notice["code_de_vote"])
            assert voter.code_digest != notice["code_de_vote"] and voter.code_issued_at
            assert notice["code_de_vote"][0] not in "=+-@"  # a spreadsheet would compute it
    assert audit_counts(app)["codes_issued"] == 1
    with app.app_context():
        session = db.new_session()
        assert session.scalar(select(AuditEvent.detail).where(AuditEvent.event == "codes_issued")) == "6"
        session.close()


def test_issued_code_opens_the_voting_space(runner, app, client, make_voter, tmp_path):
    voter_id = make_voter(code=None)
    out = tmp_path / "notices.csv"
    assert runner.invoke(args=["codes", "issue", "--out", str(out)]).exit_code == 0
    code = read_notices(out)[0]["code_de_vote"]
    assert login(client, get_voter(app, voter_id).email).status_code == 302
    page = client.get("/vote")
    response = client.post("/vote", data={"code": f"  {code} ", "captcha": "", "csrf_token": csrf_of(page)})
    assert response.status_code == 302 and "/espace-de-vote" in response.headers["Location"]


def test_codes_issue_refuses_to_overwrite(runner, app, tmp_path, make_voter):
    make_voter(code=None)
    out = tmp_path / "notices.csv"
    out.write_text("codes déjà imprimés\n")
    result = runner.invoke(args=["codes", "issue", "--out", str(out)])
    assert result.exit_code == 1 and "existe déjà" in result.stderr and "jamais remplacé" in result.stderr
    assert out.read_text() == "codes déjà imprimés\n"
    assert all(v.code_digest is None for v in voters_by_identifiant(app).values())
    assert [n for n in os.listdir(tmp_path) if n.startswith(".codes-")] == []
    # More in tests/test_codes_safety.py (--force gone, an empty file, a file appearing meanwhile).


def test_codes_issue_only_for_voters_without_a_code(runner, app, tmp_path, make_voter):
    has_code = make_voter()
    without = make_voter(code=None)
    before = get_voter(app, has_code).code_digest
    out = tmp_path / "notices.csv"
    runner.invoke(args=["codes", "issue", "--out", str(out)])
    assert [n["identifiant"] for n in read_notices(out)] == [get_voter(app, without).identifiant]
    assert get_voter(app, has_code).code_digest == before
    second = runner.invoke(args=["codes", "issue", "--out", str(tmp_path / "encore.csv")])
    assert second.exit_code == 0 and "aucun fichier écrit" in second.stdout
    assert not (tmp_path / "encore.csv").exists()


def test_codes_issue_in_batches(runner, app, tmp_path, monkeypatch):
    from reassort.cli import codes as codes_cmd

    monkeypatch.setattr(codes_cmd, "BATCH_SIZE", 4)
    rows = [f"E{n:04d};NOM;Prénom;1970-01-01;;p{n}@ac-paris.fr;{NUMEN};;CAP" for n in range(1, 11)]
    path = tmp_path / "dix.csv"
    path.write_bytes(csv_bytes(*rows))
    assert runner.invoke(args=["voters", "import", str(path)]).exit_code == 0
    out = tmp_path / "notices.csv"
    assert runner.invoke(args=["codes", "issue", "--out", str(out)]).exit_code == 0
    notices = read_notices(out)
    assert [n["identifiant"] for n in notices] == [f"E{n:04d}" for n in range(1, 11)]
    assert len({n["code_de_vote"] for n in notices}) == 10


def test_codes_issue_to_a_missing_folder_explains(runner, tmp_path):
    result = runner.invoke(args=["codes", "issue", "--out", str(tmp_path / "absent" / "n.csv")])
    assert result.exit_code == 1 and "Dossier introuvable" in result.stderr


# --- audit -------------------------------------------------------------------------------

def test_audit_export_has_no_addresses_or_secrets(runner, app, client, outbox, tmp_path):
    import_sample(runner)
    runner.invoke(args=["voters", "send-activation"])
    out = tmp_path / "notices.csv"
    runner.invoke(args=["codes", "issue", "--out", str(out)])
    emails = [v.email for v in voters_by_identifiant(app).values()]
    login(client, emails[0], "mauvais mot de passe")  # a failed login, with an IP hash

    result = runner.invoke(args=["audit", "export"])
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout), delimiter=";"))
    assert rows[0] == ["date_utc", "evenement", "votant_id", "ip_hachee", "detail"]
    events = {row[1] for row in rows[1:]}
    assert {"voters_imported", "activation_sent", "codes_issued", "login_failed"} <= events
    secrets = emails + [n["code_de_vote"] for n in read_notices(out)] + [NUMEN, NIR10, "127.0.0.1"]
    secrets += [link_token(m) for m in outbox()]
    assert "@" not in result.stdout
    assert not [s for s in secrets if s in result.stdout]


def test_audit_export_to_a_file(runner, app, tmp_path):
    import_sample(runner)
    out = tmp_path / "audit.csv"
    result = runner.invoke(args=["audit", "export", "--out", str(out)])
    assert result.exit_code == 0 and "1 événement(s) exporté(s)" in result.stderr
    assert out.read_text(encoding="utf-8").splitlines()[1].split(";")[1] == "voters_imported"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_audit_stats_counts_events(runner, app, tmp_path):
    empty = runner.invoke(args=["audit", "stats"])
    assert empty.exit_code == 0 and "vide" in empty.stdout
    import_sample(runner)
    runner.invoke(args=["voters", "send-activation"])
    result = runner.invoke(args=["audit", "stats"])
    assert result.exit_code == 0
    assert re.search(r"Liens d'activation envoyés\s+6\n", result.stdout)
    assert re.search(r"Imports d'électeurs\s+1\n", result.stdout)
    assert re.search(r"Total\s+7\n", result.stdout)


def test_import_command_refuses_an_address_already_used(runner, app, tmp_path):
    import_sample(runner)
    path = tmp_path / "suite.csv"
    path.write_bytes(csv_bytes(GOOD.replace("E0001", "E0100"), SECOND.replace("E0002", "E0101")))
    result = runner.invoke(args=["voters", "import", str(path)])
    assert result.exit_code == 1
    assert "ligne 2 : adresse électronique déjà attribuée à l'électeur « E0001 »" in result.stderr
    assert "E0100" not in voters_by_identifiant(app)
