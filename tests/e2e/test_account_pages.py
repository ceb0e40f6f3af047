"""The voter's account around the journey (SPEC §1b) in headless Chromium.

The journey: a voter who remembers nothing but where their professional mailbox is —
neither the password nor the answer to the question défi, and the vote code is lost —
gets back in with « Mot de passe oublié ? », chooses a new question défi in « Mon
compte », then goes through the réassort to a new code that opens the voting space.
Then the other states of the new pages.  Every screen goes through ``screens.check``
(axe-core at WCAG 2.1 AA with zero violations, 320 px, 44 px targets).
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import CODE, NUMEN, PASSWORD
from tests.e2e.steps import enter_code, fill_challenge, go_to_vote_code, login, shown_code

pytestmark = pytest.mark.browser

NEW_PASSWORD = "la phrase de passe de mon retour"
NEW_ANSWER = "Astronaute"


def h1(page):
    return page.get_by_role("heading", level=1)


def ask_link(page, live, email: str) -> None:
    """Fill the neutral form on the page (address + CAPTCHA) and send it."""
    page.get_by_label("Adresse électronique professionnelle").fill(email)
    page.get_by_label("CAPTCHA", exact=True).fill(live.captcha_answer(page))
    page.get_by_role("button", name="Recevoir le lien").click()


def test_a_voter_who_forgot_everything_but_the_mailbox_gets_back_in_and_a_new_code(page, live, screens):
    site = live()
    _voter_id, email = site.add_voter()

    page.goto(site.url + "/connexion")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    expect(h1(page)).to_have_text("Mot de passe oublié ?")
    screens.check(page, "47-mot-de-passe-oublie")
    ask_link(page, site, email)
    expect(h1(page)).to_have_text("Demande enregistrée")
    expect(page.get_by_role("status")).to_contain_text("Si l'adresse saisie est celle d'un compte électeur")
    screens.check(page, "48-demande-enregistree")

    # The link from the mailbox: the token leaves the address bar at once.
    link = site.last_reset_link()
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/mot-de-passe/nouveau$"))
    expect(h1(page)).to_have_text("Choisir un nouveau mot de passe")
    screens.check(page, "49-nouveau-mot-de-passe")
    page.get_by_label("Nouveau mot de passe").fill(NEW_PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Enregistrer mon nouveau mot de passe").click()
    expect(page).to_have_url(re.compile(r"/connexion$"))
    expect(page.get_by_role("status")).to_contain_text("Votre nouveau mot de passe est enregistré")
    screens.check(page, "50-connexion-mot-de-passe-change")

    login(page, site, email, NEW_PASSWORD)
    expect(h1(page)).to_have_text("Bienvenue, Angela DUBOIS")
    page.get_by_role("banner").get_by_role("link", name="Mon compte").click()
    expect(h1(page)).to_have_text("Mon compte")
    expect(page.get_by_text(email)).to_be_visible()
    screens.check(page, "51-mon-compte")

    # The answer is forgotten too: a new question défi, after the (new) password.
    page.get_by_role("link", name="Changer ma question défi").click()
    expect(h1(page)).to_have_text("Changer ma question défi")
    screens.check(page, "52-changer-question-defi")
    page.get_by_label("Mot de passe actuel").fill(NEW_PASSWORD)
    page.get_by_label("Question défi", exact=True).select_option("q4")
    page.get_by_label("Réponse à la question défi").fill(NEW_ANSWER)
    page.get_by_role("button", name="Enregistrer ma question défi").click()
    expect(page.get_by_role("status")).to_contain_text("Votre question défi a été changée")
    screens.check(page, "53-mon-compte-question-changee")

    # Then the réassort, with the new answer, to a new code.
    go_to_vote_code(page, site)
    page.get_by_role("link", name="Cliquez ici pour obtenir un réassort de votre code de vote").click()
    page.get_by_role("link", name="Répondre à ma question défi").click()
    expect(page.get_by_text("Quel était le métier rêvé de votre enfance ?")).to_be_visible()
    fill_challenge(page, "email", answer=NEW_ANSWER, identifier=NUMEN)
    expect(h1(page)).to_have_text("Lien envoyé")
    page.goto(site.last_link())
    page.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()
    new_code = shown_code(page)
    assert new_code != CODE
    page.get_by_role("link", name="J'ai noté mon code").click()
    go_to_vote_code(page, site)
    enter_code(page, site, new_code)
    expect(page).to_have_url(re.compile(r"/espace-de-vote$"))

    sent = [(m["to"], m["subject"]) for m in site.outbox() if m["to"] == email]
    assert sent == [(email, "Choisir un nouveau mot de passe"), (email, "Votre mot de passe a été modifié"),
                    (email, "Votre question défi a été modifiée"), (email, "Votre code de vote a été modifié")]


def test_the_account_pages_in_their_other_states_are_accessible(page, live, screens):
    site = live()
    _voter_id, email = site.add_voter()
    _new_voter, new_email = site.add_voter(activated=False)

    page.goto(site.url + "/mot-de-passe-oublie")
    page.get_by_role("button", name="Recevoir le lien").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Le formulaire contient 2 erreurs.")
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Adresse électronique professionnelle")).to_be_focused()
    screens.check(page, "54-mot-de-passe-oublie-erreurs")

    page.get_by_label("Adresse électronique professionnelle").fill(email)
    page.get_by_label("CAPTCHA", exact=True).fill("000000")
    page.get_by_role("button", name="Recevoir le lien").click()
    expect(page.get_by_role("alert")).to_contain_text("Les chiffres saisis ne correspondent pas au CAPTCHA.")
    assert site.outbox() == []

    page.goto(site.url + "/connexion")
    page.get_by_role("link", name="Je n'ai pas reçu mon lien d'activation").click()
    expect(h1(page)).to_have_text("Je n'ai pas reçu mon lien d'activation")
    screens.check(page, "55-lien-activation-non-recu")
    ask_link(page, site, new_email)
    expect(h1(page)).to_have_text("Demande enregistrée")
    activation = re.findall(re.escape(site.url) + r"/activation/\S+", site.outbox()[-1]["body"])[-1]
    page.goto(activation)
    expect(h1(page)).to_have_text("Activation de votre compte électeur")

    page.goto(site.url + "/mot-de-passe-oublie")
    ask_link(page, site, email)
    page.goto(site.last_reset_link())
    page.get_by_label("Nouveau mot de passe").fill("court")
    page.get_by_label("Confirmation du mot de passe").fill("autre")
    page.get_by_role("button", name="Enregistrer mon nouveau mot de passe").click()
    expect(page.get_by_role("alert")).to_contain_text("Le formulaire contient 2 erreurs.")
    screens.check(page, "56-nouveau-mot-de-passe-erreurs")

    page.goto(site.url + "/mot-de-passe/lien/" + "a" * 40)
    expect(h1(page)).to_have_text("Ce lien n'est pas valide")
    screens.check(page, "57-lien-mot-de-passe-invalide")

    login(page, site, email, PASSWORD)
    page.goto(site.url + "/mon-compte")
    page.get_by_role("link", name="Changer mon mot de passe").click()
    expect(h1(page)).to_have_text("Changer mon mot de passe")
    page.get_by_label("Mot de passe actuel").fill("pas le bon mot de passe")
    page.get_by_label("Nouveau mot de passe").fill(NEW_PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Changer mon mot de passe").click()
    expect(page.get_by_role("alert")).to_contain_text("Mot de passe actuel incorrect.")
    expect(page.get_by_label("Mot de passe actuel")).to_have_attribute("aria-invalid", "true")
    screens.check(page, "58-changer-mot-de-passe-erreur")
    page.get_by_label("Mot de passe actuel").fill(PASSWORD)
    page.get_by_label("Nouveau mot de passe").fill(NEW_PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Changer mon mot de passe").click()
    expect(page.get_by_role("status")).to_contain_text("Votre mot de passe a été changé")
    expect(h1(page)).to_have_text("Mon compte")
