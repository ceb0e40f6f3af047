"""The FranceConnect path (SPEC §1 step 5) in the browser, through the stand-in provider
mounted in the app as in the demo (``FRANCECONNECT_STANDIN``, issuer on the app's own URL)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import CODE
from tests.e2e.steps import enter_code, go_to_vote_code, login, shown_code

pytestmark = pytest.mark.browser

ANGELA = re.compile(r"^Angela Claire Louise DUBOIS")
NOBODY = re.compile(r"^Camille LEFEBVRE")


def h1(page):
    return page.get_by_role("heading", level=1)


def to_franceconnect(page, site, email):
    login(page, site, email)
    page.goto(site.url + "/reassort")
    fc = page.get_by_role("link", name="S'identifier avec FranceConnect")
    expect(fc).to_have_attribute("href", "/reassort/franceconnect")
    fc.click()
    expect(h1(page)).to_have_text("Choisir une identité de test")


def test_franceconnect_match_sends_the_link_by_email_then_new_code(page, live, screens):
    site = live()
    _voter_id, email = site.add_voter()
    to_franceconnect(page, site, email)
    screens.check(page, "29-fc-fournisseur")
    page.get_by_label(ANGELA).check()
    page.get_by_role("button", name="Continuer vers le service").click()

    expect(h1(page)).to_have_text("Lien envoyé")
    expect(page.get_by_role("status")).to_contain_text("a•••@example.org")
    assert "angela.dubois@example.org" not in page.content()
    screens.check(page, "30-fc-lien-envoye")
    mail = site.outbox()[-1]
    assert (mail["channel"], mail["to"]) == ("email", "angela.dubois@example.org")
    link = site.last_link()

    page.get_by_role("link", name="Se déconnecter de FranceConnect").click()
    expect(h1(page)).to_have_text("Vous êtes déconnecté de FranceConnect")
    screens.check(page, "34-fc-deconnecte")

    page.goto(link)
    page.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()
    new_code = shown_code(page)
    go_to_vote_code(page, site)
    enter_code(page, site, CODE)
    expect(page.get_by_role("alert")).to_contain_text("Le code de vote ou le CAPTCHA est incorrect.")
    enter_code(page, site, new_code)
    expect(page).to_have_url(re.compile(r"/espace-de-vote$"))


def test_franceconnect_mismatch_and_cancel_send_nothing(page, live, screens):
    site = live()
    _voter_id, email = site.add_voter()
    to_franceconnect(page, site, email)
    page.get_by_label(NOBODY).check()
    with page.expect_request(re.compile(r"/reassort/franceconnect/retour\?")) as callback:
        page.get_by_role("button", name="Continuer vers le service").click()
    expect(h1(page)).to_have_text("Identité non reconnue")
    expect(page.get_by_role("alert")).to_contain_text("Aucun lien n'a été envoyé.")
    screens.check(page, "31-fc-identite-non-reconnue")
    # A reload shows the same outcome (post/redirect/get), not « réponse périmée ».
    page.reload()
    expect(h1(page)).to_have_text("Identité non reconnue")
    # The provider's answer itself serves once: opened again it is refused, and nothing is sent.
    page.goto(callback.value.url)
    expect(h1(page)).to_have_text("Identification FranceConnect impossible")
    screens.check(page, "32-fc-reponse-perimee")

    page.get_by_role("link", name="Revenir au choix du mode de réassort").click()
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    page.get_by_role("button", name="Annuler et revenir au service").click()
    expect(h1(page)).to_have_text("Obtenir un nouveau code de vote")
    expect(page.get_by_role("status")).to_contain_text("Vous avez annulé l'identification avec FranceConnect.")
    screens.check(page, "33-fc-annule")
    assert site.outbox() == []
