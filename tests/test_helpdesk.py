"""The help desk (issue 16 item 4): ``voters show | unlock | resend-activation``.

Each command finds the voter by identifiant or address of record, needs ``--operator``
and ``--reason``, writes its audit row, and never shows or sets a vote code.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from reassort.procedures import votegate
from reassort.rules import operators
from reassort.storage.models import AuditEvent
from reassort.web.extensions import db
from tests.conftest import CODE, NIR10, NUMEN, get_voter, set_fields

pytestmark = pytest.mark.each_database

WHO = ["--operator", "m.durand", "--reason", "appel 2026-118"]


def rows(app, event: str) -> list[AuditEvent]:
    with app.app_context():
        with db.new_session() as s:
            return list(s.scalars(select(AuditEvent).where(AuditEvent.event == event).order_by(AuditEvent.id)))


# -- voters show -----------------------------------------------------------------------------

def test_voters_show_prints_the_state_and_audits_the_consultation(runner, app, make_voter, clock):
    now = int(clock())
    voter_id = make_voter(code_issued_at=now - 86400, activation_sent_at=now - 5 * 86400,
                          challenge_locked_until=now + 1800, link_window_start=now - 600, links_in_window=2)
    voter = get_voter(app, voter_id)
    result = runner.invoke(args=["voters", "show", voter.identifiant, *WHO])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Électeur {voter.identifiant} — DUBOIS Angela Claire Louise" in out
    assert f"Adresse de référence : {voter.email}" in out
    assert "Compte activé : oui" in out
    assert re.search(r"Code de vote : émis le \d\d/\d\d/\d{4} à \d\d h \d\d", out)
    assert re.search(r"Question défi : suspendue jusqu'au \d\d/\d\d/\d{4}", out)
    assert "Liens de réassort cette heure : 2 sur 5" in out
    assert "Désactivé : non" in out
    [row] = rows(app, "helpdesk_show")
    assert (row.voter_id, row.detail) == (voter_id, "operateur=m.durand motif=appel 2026-118")


def test_voters_show_finds_a_voter_by_address_and_lists_recent_events(runner, app, make_voter, logged_in):
    _client, voter_id, email = logged_in
    result = runner.invoke(args=["voters", "show", email.upper(), *WHO])
    assert result.exit_code == 0, result.output
    assert "Connexions réussies" in result.stdout
    assert "Compte activé : oui" in result.stdout


def test_voters_show_of_a_voter_waiting_for_activation(runner, app, make_voter):
    voter_id = make_voter(activated=False, code=None)
    result = runner.invoke(args=["voters", "show", get_voter(app, voter_id).identifiant, *WHO])
    assert "Compte activé : non — aucun lien d'activation envoyé" in result.stdout
    assert "Code de vote : aucun code émis" in result.stdout
    assert "Question défi : ouverte" in result.stdout


def test_helpdesk_never_shows_a_secret_nor_a_digest(runner, app, make_voter):
    voter_id = make_voter()
    voter = get_voter(app, voter_id)
    result = runner.invoke(args=["voters", "show", voter.identifiant, *WHO])
    secrets = [CODE, NUMEN, NIR10, voter.code_digest, voter.numen_digest, voter.nir_digest, voter.password_hash,
               voter.answer_hash]
    assert not [s for s in secrets if s and s in result.output]


def test_an_operator_can_never_see_or_set_a_vote_code(runner, app, make_voter):
    from reassort.cli.voters import group
    commands = {name: group.commands[name] for name in ("show", "unlock", "resend-activation")}
    for name, command in commands.items():
        assert not [p.name for p in command.params if "code" in (p.name or "")], name
    voter_id = make_voter()
    before = get_voter(app, voter_id).code_digest
    ident = get_voter(app, voter_id).identifiant
    for name in commands:
        runner.invoke(args=["voters", name, ident, *WHO])
    after = get_voter(app, voter_id)
    assert after.code_digest == before == votegate_digest(app, CODE)


def votegate_digest(app, code):
    with app.app_context():
        return votegate.code_digest(code)


def test_unknown_voter_is_a_french_error_and_nothing_is_audited(runner, app):
    for command in ("show", "unlock", "resend-activation"):
        result = runner.invoke(args=["voters", command, "E99999", *WHO])
        assert result.exit_code == 1
        assert "Aucun électeur n'a l'identifiant ou l'adresse « E99999 »" in result.stderr
    assert rows(app, "helpdesk_show") == rows(app, "helpdesk_unlock") == []


@pytest.mark.parametrize("reason", ["", "   ", "rappeler au 06 12 34 56 78", "jeanne.perso@exemple.org",
                                    "NIR 2 62 08 75 107", "NUMEN 12E1234567ABC", "x" * 201, "motif\x00"])
def test_a_reason_holding_a_contact_or_an_identifier_is_refused(runner, app, make_voter, clock, reason):
    locked_until = int(clock()) + 3600
    voter_id = make_voter(challenge_locked_until=locked_until)
    ident = get_voter(app, voter_id).identifiant
    result = runner.invoke(args=["voters", "unlock", ident, "--operator", "m.durand", "--reason", reason])
    assert result.exit_code == 1
    assert "--reason" in result.stderr
    assert rows(app, "helpdesk_unlock") == []
    assert get_voter(app, voter_id).challenge_locked_until == locked_until


@pytest.mark.parametrize("operator", ["", "m", "m durand", "jean@x.fr", "a" * 65])
def test_an_operator_name_must_be_a_login(runner, app, make_voter, operator):
    ident = get_voter(app, make_voter()).identifiant
    result = runner.invoke(args=["voters", "show", ident, "--operator", operator, "--reason", "appel"])
    assert result.exit_code == 1 and "--operator" in result.stderr
    assert rows(app, "helpdesk_show") == []


def test_operator_and_reason_are_required(runner, app, make_voter):
    ident = get_voter(app, make_voter()).identifiant
    assert runner.invoke(args=["voters", "show", ident, "--reason", "appel"]).exit_code == 2
    assert runner.invoke(args=["voters", "unlock", ident, "--operator", "m.durand"]).exit_code == 2


# -- voters unlock ---------------------------------------------------------------------------

def test_voters_unlock_lifts_the_suspension_and_is_audited(runner, app, make_voter, clock):
    voter_id = make_voter(challenge_locked_until=int(clock()) + 3600, challenge_failures=3)
    ident = get_voter(app, voter_id).identifiant
    result = runner.invoke(args=["voters", "unlock", ident, *WHO])
    assert result.exit_code == 0, result.output
    assert "suspension levée" in result.stdout
    voter = get_voter(app, voter_id)
    assert (voter.challenge_locked_until, voter.challenge_failures) == (0, 0)
    again = runner.invoke(args=["voters", "unlock", ident, *WHO])
    assert "Rien à lever" in again.stdout
    assert [(r.voter_id, r.detail) for r in rows(app, "helpdesk_unlock")] == [
        (voter_id, "operateur=m.durand motif=appel 2026-118 resultat=levee"),
        (voter_id, "operateur=m.durand motif=appel 2026-118 resultat=rien_a_lever")]


def test_an_unlocked_voter_can_answer_the_question_defi_again(runner, app, logged_in, clock, outbox):
    from tests.flows import ask_link
    client, voter_id, _email = logged_in
    set_fields(app, voter_id, challenge_locked_until=int(clock()) + 3600)
    assert ask_link(client).status_code == 429
    runner.invoke(args=["voters", "unlock", get_voter(app, voter_id).identifiant, *WHO])
    assert "Lien envoyé" in ask_link(client).get_data(as_text=True)
    assert len(outbox()) == 1


# -- voters resend-activation ------------------------------------------------------------------

def activation_path(mail: dict) -> str:
    return re.search(r"https://vote\.example\.fr(/activation/[\w.-]+)", mail["body"]).group(1)


def test_voters_resend_activation_sends_the_only_valid_link_and_is_audited(runner, app, make_voter, outbox,
                                                                           client):
    voter_id = make_voter(activated=False)
    ident, generation = get_voter(app, voter_id).identifiant, get_voter(app, voter_id).activation_generation
    assert runner.invoke(args=["voters", "resend-activation", ident, *WHO]).exit_code == 0
    result = runner.invoke(args=["voters", "resend-activation", ident, *WHO])
    assert result.exit_code == 0, result.output
    assert "Lien d'activation envoyé à agent1@education.gouv.fr" in result.stdout
    first, second = outbox()
    assert first["to"] == second["to"] == get_voter(app, voter_id).email
    assert second["subject"] == "Activez votre compte électeur"
    assert client.get(activation_path(second)).status_code == 200
    assert "Ce lien d'activation n'est pas valide" in client.get(activation_path(first)).get_data(as_text=True)
    assert get_voter(app, voter_id).activation_generation != generation
    assert len(rows(app, "activation_sent")) == 2
    assert [r.detail for r in rows(app, "helpdesk_resend_activation")] == [
        "operateur=m.durand motif=appel 2026-118 resultat=envoye"] * 2


def test_resend_activation_refuses_an_activated_account(runner, app, make_voter, outbox):
    voter_id = make_voter(activated=True)
    result = runner.invoke(args=["voters", "resend-activation", get_voter(app, voter_id).identifiant, *WHO])
    assert result.exit_code == 1
    assert "déjà activé" in result.stderr and "rien n'a été envoyé" in result.stderr
    assert outbox() == []
    assert [r.detail for r in rows(app, "helpdesk_resend_activation")] == [
        "operateur=m.durand motif=appel 2026-118 resultat=deja_active"]


@pytest.fixture
def smtp_settings(settings, smtp_server):
    settings.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_TIMEOUT=2)
    return settings


def test_resend_activation_when_the_relay_refuses_changes_nothing(smtp_settings, runner, app, make_voter,
                                                                 smtp_server):
    voter_id = make_voter(activated=False)
    before = get_voter(app, voter_id).activation_generation
    smtp_server.handler.refuse = True
    result = runner.invoke(args=["voters", "resend-activation", get_voter(app, voter_id).identifiant, *WHO])
    assert result.exit_code == 1
    assert "Envoi impossible" in result.stderr and "Rien n'a changé" in result.stderr
    voter = get_voter(app, voter_id)
    assert (voter.activation_generation, voter.activation_sent_at) == (before, None)
    assert rows(app, "activation_sent") == []
    assert [r.detail for r in rows(app, "helpdesk_resend_activation")] == [
        "operateur=m.durand motif=appel 2026-118 resultat=echec_envoi"]


def test_resend_activation_refuses_a_voter_struck_off(runner, app, make_voter, outbox, clock):
    voter_id = make_voter(activated=False, deactivated_at=int(clock()))
    before = get_voter(app, voter_id).activation_generation
    result = runner.invoke(args=["voters", "resend-activation", get_voter(app, voter_id).identifiant, *WHO])
    assert result.exit_code == 1 and "désactivé" in result.stderr and "rien n'a été envoyé" in result.stderr
    assert outbox() == [] and get_voter(app, voter_id).activation_generation == before
    assert [r.detail for r in rows(app, "helpdesk_resend_activation")] == [
        "operateur=m.durand motif=appel 2026-118 resultat=desactive"]


def test_resend_activation_whose_acceptance_never_came_keeps_the_link_it_may_have_delivered(
        smtp_settings, runner, app, make_voter, smtp_server, client):
    # The relay got the whole message but answered after our deadline: it may deliver it.
    smtp_settings.update(SMTP_TIMEOUT=0.3)
    smtp_server.handler.answer_after = 2.0
    voter_id = make_voter(activated=False)
    result = runner.invoke(args=["voters", "resend-activation", get_voter(app, voter_id).identifiant, *WHO])
    assert result.exit_code == 1 and "Envoi incertain" in result.stderr
    [mail] = smtp_server.handler.messages
    assert client.get(activation_path({"body": mail.get_content()})).status_code == 200
    assert get_voter(app, voter_id).activation_claimed_at is None
    assert rows(app, "activation_sent") == []
    assert [r.detail for r in rows(app, "helpdesk_resend_activation")] == [
        "operateur=m.durand motif=appel 2026-118 resultat=envoi_incertain"]


def test_resend_activation_over_a_real_smtp_server(smtp_settings, runner, app, make_voter, smtp_server):
    voter_id = make_voter(activated=False)
    result = runner.invoke(args=["voters", "resend-activation", get_voter(app, voter_id).identifiant, *WHO])
    assert result.exit_code == 0, result.output
    [mail] = smtp_server.handler.messages
    assert mail["To"] == get_voter(app, voter_id).email and "/activation/" in mail.get_content()


def test_check_reason_keeps_short_tickets():
    assert operators.check_reason("  appel   2026-118 ") == "appel 2026-118"
    assert operators.check_reason("ticket 4512, rappel le 2026-12-02") == "ticket 4512, rappel le 2026-12-02"
