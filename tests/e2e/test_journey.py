"""The voter journey of SPEC §1 in headless Chromium, screen by screen.

Every screen reached also goes through ``screens.check`` (axe-core at WCAG 2.1 AA,
no horizontal scroll at 320 px, 44 px touch targets).  Time on the code page is
Playwright's fake clock: the 120 seconds pass in an instant, nothing sleeps.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from reassort.rules import codes, spelling
from tests.conftest import CODE
from tests.e2e.steps import (
    PERSONAL_EMAIL,
    PHONE,
    ask_link,
    enter_code,
    freeze_clock,
    go_to_vote_code,
    login,
    shown_code,
)

pytestmark = pytest.mark.browser

NEW_PASSWORD = "une toute nouvelle phrase de passe"
CODE_FAILED = "Le code de vote ou le CAPTCHA est incorrect."


def test_activation_then_login_then_vote_code_opens_the_voting_space(page, live, screens):
    site = live()
    voter_id, email = site.add_voter(activated=False)
    link = site.activation_link(voter_id)
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Activation de votre compte électeur")
    screens.check(page, "07-activation")

    page.get_by_label("Nouveau mot de passe").fill(NEW_PASSWORD)
    page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    page.get_by_label("Question défi", exact=True).select_option("q1")
    page.get_by_label("Réponse à la question défi").fill("Camille")
    page.get_by_role("button", name="Activer mon compte").click()
    expect(page).to_have_url(re.compile(r"/connexion$"))
    expect(page.get_by_role("status")).to_contain_text("Votre compte est activé")
    screens.check(page, "01-connexion")

    login(page, site, email, NEW_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Bienvenue, Angela DUBOIS")
    screens.check(page, "10-accueil")

    page.get_by_role("link", name="Consulter les scrutins").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Saisie du code de vote")
    expect(page.get_by_role("link", name="Cliquez ici pour obtenir un réassort de votre code de vote")).to_be_visible()
    expect(page.get_by_role("link", name="Retour connexion")).to_be_visible()
    screens.check(page, "11-code-de-vote")

    enter_code(page, site, CODE)
    expect(page).to_have_url(re.compile(r"/espace-de-vote$"))
    expect(page.locator("main").get_by_role("listitem")).to_have_text(["CAP académique — professeurs certifiés",
                                                       "Comité social d'administration ministériel"])
    screens.check(page, "13-espace-de-vote")

    # The activation link was single use.
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Ce lien d'activation n'est pas valide")


@pytest.mark.parametrize("channel, masked, shown", [
    ("sms", "06 •• •• •• 78", PHONE),
    ("email", "j•••@exemple.org", PERSONAL_EMAIL),
], ids=["sms", "email"])
def test_reassort_by_question_defi_then_link_then_new_code(page, live, screens, channel, masked, shown):
    site = live()
    voter_id, email = site.add_voter()
    login(page, site, email)
    go_to_vote_code(page, site)
    ask_link(page, site, channel)

    expect(page.get_by_role("heading", level=1)).to_have_text("Lien envoyé")
    expect(page.get_by_role("status")).to_contain_text(masked)
    assert shown not in page.content()
    screens.check(page, "20-lien-envoye-sms" if channel == "sms" else "21-lien-envoye-courriel")
    sent = site.outbox()[-1]
    assert sent["channel"] == channel
    link = site.last_link()

    # The voter opens the link (the token leaves the URL), then regenerates.
    freeze_clock(page)
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/reassort/regenerer$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Réassort du code de vote")
    expect(page.get_by_text("Préparez de quoi noter.")).to_be_visible()
    if channel == "sms":
        screens.check(page, "22-regenerer")
    page.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Votre nouveau code de vote")
    new_code = shown_code(page)
    assert new_code != CODE and len(new_code) == codes.LENGTH and set(new_code) <= set(codes.ALPHABET)
    assert "".join(page.locator(".code-display").inner_text().split()) == new_code
    expect(page.get_by_text("Copier ou noter ce code")).to_be_visible()
    expect(page.locator("#remaining")).to_have_text("2 minutes")
    if channel == "sms":
        screens.check(page, "23-nouveau-code")

    # The countdown runs; when the time is up the code leaves the page.
    page.clock.fast_forward("01:00")
    expect(page.locator("#remaining")).to_have_text("1 minute")
    page.clock.fast_forward("01:00")
    expect(page.locator("#code-zone")).to_have_count(0)
    expect(page.locator("#code-value")).to_have_count(0)
    expect(page.locator("#countdown")).to_have_count(0)
    assert new_code not in page.content()
    assert spelling.spell(new_code) not in page.content()
    expect(page.get_by_text("Affichage terminé : le code n'est plus affiché.").first).to_be_visible()
    if channel == "sms":
        screens.check(page, "25-nouveau-code-efface")

    # Reload or back never shows it again: the page says when it was regenerated.
    page.goto(site.url + "/reassort/regenerer")
    expect(page.get_by_role("heading", level=1)).to_have_text("Votre code a déjà été régénéré")
    assert new_code not in page.content()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Ce lien n'est pas valide")
    if channel == "sms":
        screens.check(page, "28-lien-invalide")

    # The old code no longer opens the voting space; the new one does.
    go_to_vote_code(page, site)
    enter_code(page, site, CODE)
    expect(page.get_by_role("alert")).to_contain_text(CODE_FAILED)
    if channel == "sms":
        screens.check(page, "12-code-de-vote-erreur")
    enter_code(page, site, new_code)
    expect(page).to_have_url(re.compile(r"/espace-de-vote$"))

    # The professional address got a notice; no message ever carried the code.
    messages = site.outbox()
    assert any(m["to"] == email and "modifié" in (m["subject"] + m["body"]) for m in messages)
    assert not any(new_code in m["body"] or new_code in (m["subject"] or "") for m in messages)


def test_display_can_be_extended_with_one_action(page, live, screens):
    site = live()
    voter_id, _email = site.add_voter()
    freeze_clock(page)
    page.goto(site.reissue_link(voter_id))
    page.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()
    code = shown_code(page)

    page.clock.fast_forward("01:40")
    expect(page.locator("#remaining")).to_have_text("20 secondes")
    expect(page.locator("#countdown-live")).to_contain_text("le code disparaîtra dans 20 secondes")
    # The warning is a sentence on the page, not only a colour (RGAA 13.1, issue 13 item 7).
    expect(page.get_by_text("Attention : le code va disparaître dans moins de 20 secondes.")).to_be_visible()
    screens.check(page, "24-nouveau-code-avertissement")

    page.get_by_role("button", name="Prolonger l'affichage de 120 secondes").click()
    expect(page.locator("#remaining")).to_have_text("2 minutes 20 secondes")
    expect(page.locator("#countdown-live")).to_have_text("Affichage prolongé : il reste 2 minutes 20 secondes.")
    expect(page.get_by_text("Attention : le code va disparaître dans moins de 20 secondes.")).to_be_hidden()

    page.clock.fast_forward("02:00")
    expect(page.locator("#remaining")).to_have_text("20 secondes")
    assert shown_code(page) == code
    page.clock.fast_forward("00:20")
    expect(page.locator("#code-zone")).to_have_count(0)


def test_copy_button_copies_the_code(context, page, live):
    site = live()
    voter_id, _email = site.add_voter()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    page.goto(site.reissue_link(voter_id))
    page.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()
    page.get_by_role("button", name="Copier le code").click()
    expect(page.locator("#copy-status")).to_have_text("Code copié dans le presse-papiers.")
    assert page.evaluate("navigator.clipboard.readText()") == shown_code(page)


def test_reveal_page_without_script_keeps_the_code_until_noted(browser, page, live, screens):
    """RGAA 13.1.2 forbids a delayed refresh: without script the code stays, with no countdown, until
    the voter presses « J'ai noté mon code » (issue 13 item 7)."""
    site = live()
    voter_id, _email = site.add_voter()
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800},
                                  locale="fr-FR")
    try:
        nojs = context.new_page()
        nojs.goto(site.reissue_link(voter_id))
        nojs.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()
        expect(nojs.get_by_role("heading", level=1)).to_have_text("Votre nouveau code de vote")
        expect(nojs.locator('meta[http-equiv="refresh"]')).to_have_count(0)
        code = nojs.locator("#code-value").input_value()
        # Playwright's text engine skips <noscript>: read the rendered fallback through the DOM.
        fallback = nojs.evaluate("""() => [...document.querySelectorAll('main noscript > *')]
            .map(e => [e.textContent.trim(), e.getBoundingClientRect().height > 0])""")
        assert fallback == [["Le code reste affiché jusqu'à ce que vous cliquiez sur « J'ai noté mon code ».", True]]
        # The controls that need the script are not offered.
        expect(nojs.get_by_role("button", name="Copier le code")).to_be_hidden()
        expect(nojs.get_by_role("button", name="Prolonger l'affichage de 120 secondes")).to_be_hidden()
        expect(nojs.locator("#countdown")).to_be_hidden()
        rendered = nojs.content()

        nojs.get_by_role("link", name="J'ai noté mon code").click()
        expect(nojs.get_by_role("heading", level=1)).to_have_text("Affichage terminé")
        expect(nojs.locator("#code-value")).to_have_count(0)
        assert code not in nojs.content()
    finally:
        context.close()
    # axe needs script to run: it checks the no-script rendering as a static copy (scripts
    # dropped, <noscript> content kept as it rendered), on the app's origin.
    static = re.sub(r"<script\b[^>]*>.*?</script>", "", rendered, flags=re.S)
    static = re.sub(r"</?noscript>", "", static)
    page.goto(site.url + "/reassort/affichage-termine")
    screens.check(page, "27-affichage-termine")
    page.set_content(static)
    expect(page.locator("#code-value")).to_have_count(1)
    screens.check(page, "26-nouveau-code-sans-script", path="/reassort/regenerer (sans script)")
