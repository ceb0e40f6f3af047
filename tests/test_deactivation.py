"""Voters struck off the register (issue 17 item 4): a deactivated voter can neither log in, nor
vote, nor get a réassort; the same generic refusals as for anyone else, each audited; the
commands ``voters deactivate|reactivate IDENT… --operator --reason``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from reassort.procedures import accounts, audit, audit_metrics, recovery, register, votegate
from reassort.storage.models import AuditEvent
from reassort.web.extensions import db
from tests.conftest import CODE, PASSWORD, get_voter, login, page_text, post_form
from tests.flows import ask_link, last_link, link_path

pytestmark = pytest.mark.each_database


def deactivate(app, *voter_ids, detail="test"):
    with app.app_context():
        with db.new_session() as s:
            done = register.deactivate(s, list(voter_ids), detail)
            s.commit()
    return done


def events(app, event):
    with app.app_context():
        with db.new_session() as s:
            return [(e.voter_id, e.detail) for e in s.scalars(select(AuditEvent).where(AuditEvent.event == event)
                                                             .order_by(AuditEvent.id))]


def test_deactivated_voter_can_neither_log_in_nor_vote(app, client, make_voter):
    voter_id = make_voter()
    email = get_voter(app, voter_id).email
    assert login(client, email).status_code == 302  # an open session…
    assert deactivate(app, voter_id) == [voter_id]
    assert client.get("/vote").status_code == 302  # …ends at once: back to the login page
    refused, wrong = login(client, email), login(client, email, "pas le bon mot de passe")
    assert refused.status_code == wrong.status_code == 200
    assert "Adresse électronique ou mot de passe incorrect" in page_text(refused)  # the generic message
    assert page_text(refused).count("incorrect") == page_text(wrong).count("incorrect")
    assert (voter_id, "deactivated") in events(app, "login_failed")
    assert client.get("/espace-de-vote").status_code == 302
    with app.test_request_context():
        with db.new_session() as s:
            voter = s.get(type(get_voter(app, voter_id)), voter_id)
            assert accounts.authenticate(s, email, PASSWORD) is None
            assert votegate.try_code(s, voter, CODE, captcha_ok=True) == votegate.REFUSED
    assert events(app, "code_failed")[-1] == (voter_id, "deactivated")


def test_deactivated_voter_gets_no_reassort_and_no_activation(app, logged_in, outbox):
    client, voter_id, _ = logged_in
    ask_link(client)
    link = last_link(outbox())
    with app.app_context():
        with db.new_session() as s:
            claim = recovery.voter_for_link(s, link_path(link).rsplit("/", 1)[1])
            assert claim is not None
            activation = accounts.activation_link(voter_id, get_voter(app, voter_id).activation_generation)
    deactivate(app, voter_id)
    with app.app_context():
        with db.new_session() as s:
            assert recovery.voter_for_link(s, link_path(link).rsplit("/", 1)[1]) is None
            assert recovery.regenerate(s, voter_id, claim[1]) is None
            assert accounts.voter_for_activation(s, activation.rsplit("/", 1)[1]) is None
    page = client.get(link_path(link), follow_redirects=True)
    assert page.status_code == 400 and "RÉGÉNÉRER" not in page_text(page)  # the page of every bad link
    with app.app_context():
        assert votegate.code_digest(CODE) == get_voter(app, voter_id).code_digest  # nothing regenerated


def deactivations_counted() -> float:
    return audit_metrics.AUDIT_EVENTS.metric.labels(event="voter_deactivated")._value.get()


def test_deactivation_is_audited_and_done_once(app, make_voter):
    first, second = make_voter(), make_voter()
    counted = deactivations_counted()
    assert deactivate(app, first, second, detail="par Alice : doublon") == [first, second]
    assert deactivations_counted() == counted + 2  # the bulk event counts in the metrics as every event does
    assert deactivate(app, first, detail="encore") == []  # already deactivated: nothing, no event
    assert events(app, "voter_deactivated") == [(first, "par Alice : doublon"), (second, "par Alice : doublon")]
    assert get_voter(app, first).deactivated_at is not None


def run(runner, *args):
    return runner.invoke(args=["voters", *args])


def test_deactivate_command_is_audited_with_operator_and_reason(app, runner, make_voter):
    voter_id = make_voter(identifiant="E0042")
    result = run(runner, "deactivate", "E0042", "--operator", "a.martin", "--reason", "radiée le 3/12")
    assert result.exit_code == 0, result.output
    assert "Électeurs désactivé(s) : 1 ; déjà désactivé(s) : 0." in result.output
    assert events(app, "voter_deactivated") == [(voter_id, "operateur=a.martin motif=radiée le 3/12")]
    with app.app_context():
        with db.new_session() as s:
            assert audit.counts(s)["voter_deactivated"] == 1


def test_deactivate_command_with_an_unknown_identifiant_changes_nothing(app, runner, make_voter):
    voter_id = make_voter(identifiant="E0042")
    result = run(runner, "deactivate", "E0042", "E9999", "--operator", "a.martin", "--reason", "radiée")
    assert result.exit_code == 1 and "E9999" in result.stderr and "rien n'a été changé" in result.stderr
    assert get_voter(app, voter_id).deactivated_at is None
    assert events(app, "voter_deactivated") == []


@pytest.mark.parametrize("options", [["--operator", " ", "--reason", "doublon"],
                                     ["--operator", "a.martin", "--reason", ""],
                                     ["--reason", "doublon"], ["--operator", "a.martin\x07", "--reason", "doublon"],
                                     ["--operator", "a.martin", "--reason", "rappeler au 06 12 34 56 78"]])
def test_deactivate_command_requires_an_operator_and_a_reason(app, runner, make_voter, options):
    voter_id = make_voter(identifiant="E0042")
    result = run(runner, "deactivate", "E0042", *options)
    assert result.exit_code in (1, 2) and "Traceback" not in result.output and "--" in result.output
    assert get_voter(app, voter_id).deactivated_at is None


def test_reactivate_command_puts_the_voter_back_with_old_links_dead(app, runner, client, make_voter):
    voter_id = make_voter(identifiant="E0042")
    email = get_voter(app, voter_id).email
    before = get_voter(app, voter_id)
    assert run(runner, "deactivate", "E0042", "--operator", "a.martin", "--reason", "erreur").exit_code == 0
    result = run(runner, "reactivate", "E0042", "--operator", "a.martin", "--reason", "erreur corrigée")
    assert result.exit_code == 0 and "rétabli(s) : 1" in result.output
    after = get_voter(app, voter_id)
    assert after.deactivated_at is None
    assert after.link_generation != before.link_generation  # links sent before stay dead
    assert after.session_epoch != before.session_epoch
    assert events(app, "voter_reactivated") == [(voter_id, "operateur=a.martin motif=erreur corrigée")]
    assert login(client, email).status_code == 302
    assert post_form(client, "/vote", {"code": CODE}).status_code == 302  # the code still works


def test_links_of_the_current_generation_are_refused_too(app, make_voter):
    """A link recorded after the deactivation (a request racing with it sets a new generation):
    the deactivation itself refuses it, not only the generations it moved on."""
    from reassort.procedures import links
    from reassort.rules import tokens

    voter_id = make_voter()
    deactivate(app, voter_id)
    voter = get_voter(app, voter_id)
    with app.app_context():
        reissue = links.make(tokens.REISSUE, voter_id, voter.link_generation)
        activation = accounts.activation_link(voter_id, voter.activation_generation).rsplit("/", 1)[1]
        with db.new_session() as s:
            assert recovery.voter_for_link(s, reissue) is None
            assert recovery.regenerate(s, voter_id, voter.link_generation) is None
            assert accounts.voter_for_activation(s, activation) is None
        assert votegate.code_digest(CODE) == get_voter(app, voter_id).code_digest


def test_codes_issue_skips_a_deactivated_voter(app, runner, make_voter, tmp_path):
    kept, struck_off = make_voter(code=None), make_voter(code=None)
    deactivate(app, struck_off)
    out = tmp_path / "notices.csv"
    result = runner.invoke(args=["codes", "issue", "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].startswith(get_voter(app, kept).identifiant + ";")
    assert get_voter(app, struck_off).code_digest is None
