"""The CAPTCHA of the two neutral forms (SEC-49, SEC-42): a wrong or missing answer sends nothing and
counts against no address, so nobody locks a voter out of « Mot de passe oublié ? » by posting their
address; a solved CAPTCHA cannot be replayed."""

from __future__ import annotations

import pytest

from tests.account_flows import PAGES, ask_account_link
from tests.conftest import csrf_of, get_voter, page_text
from tests.test_captcha import answer, challenge_of

pytestmark = pytest.mark.each_database


@pytest.fixture
def settings(settings):
    settings.update(CAPTCHA_ENABLED=True, ACCOUNT_LINKS_PER_ADDRESS="2 per hour")
    return settings


@pytest.mark.parametrize("form", ["password", "activation"])
def test_sec49_a_wrong_captcha_sends_nothing_and_says_so_on_its_field(app, make_voter, outbox, form):
    email = get_voter(app, make_voter(activated=form == "password")).email
    response = ask_account_link(app.test_client(), email, form, captcha="000000")
    assert response.status_code == 200
    page = page_text(response)
    assert "Les chiffres saisis ne correspondent pas au CAPTCHA." in page
    assert 'id="captcha-erreur"' in page  # tied to the CAPTCHA field, not to the address
    assert email in page  # the address typed stays, to try again
    assert outbox() == []


def test_sec42_wrong_captchas_never_use_up_the_victims_allowance(app, make_voter, outbox):
    email = get_voter(app, make_voter()).email
    attacker = app.test_client()
    for _ in range(10):
        assert ask_account_link(attacker, email, captcha="000000").status_code == 200
    # The allowance (2 per hour) is intact for the voter's own, solved, requests.
    voter = app.test_client()
    assert [ask_account_link(voter, email).status_code for _ in range(3)] == [303, 303, 429]
    assert len(outbox()) == 2


def test_sec12_a_solved_captcha_cannot_be_replayed(app, make_voter, outbox):
    email = get_voter(app, make_voter()).email
    client = app.test_client()
    page = client.get(PAGES["password"])
    data = {"email": email, "captcha": answer(app, challenge_of(page)), "csrf_token": csrf_of(page)}
    assert client.post(PAGES["password"], data=data, buffered=True).status_code == 303
    replayed = client.post(PAGES["password"], data=data, buffered=True)
    assert replayed.status_code == 200 and len(outbox()) == 1


def test_another_captcha_keeps_the_address_typed_and_checks_nothing(app, make_voter, outbox):
    email = get_voter(app, make_voter()).email
    client = app.test_client()
    page = client.get(PAGES["password"])
    first = challenge_of(page)
    again = client.post(PAGES["password"], data={"email": email, "captcha_action": "nouveau",
                                                 "csrf_token": csrf_of(page)}, buffered=True)
    assert again.status_code == 200 and challenge_of(again) != first and email in page_text(again)
    assert outbox() == []
