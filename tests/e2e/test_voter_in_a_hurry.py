"""The voter in a hurry (issue 13): one browser test per item, in headless Chromium.

Each test walks the pages as a voter would — on a 390 px phone where it matters —
and every new page or state goes through ``screens.check`` (axe-core at WCAG 2.1 AA,
320 px reflow, 44 px targets, screenshots with ``SCREENSHOTS=1``).  The app's
clock is ``live.clock``: Wednesday 2 December 2026, 10 h 42 in Paris, inside the
poll's window of 1–8 December (``tests/e2e/conftest.py``).
"""

from __future__ import annotations

import csv
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.conftest import ANSWER, NUMEN, PASSWORD
from tests.e2e.conftest import MOBILE
from tests.e2e.steps import (
    PHONE,
    enter_code,
    fill_challenge,
    freeze_clock,
    go_to_vote_code,
    login,
    shown_code,
)

pytestmark = pytest.mark.browser

PARIS_10H42 = "10 h 42"
REASSORT_LINK = "Cliquez ici pour obtenir un réassort de votre code de vote"


def h1(page):
    return page.get_by_role("heading", level=1)


def paris(iso: str) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(iso).timestamp()


# --- 1. a code typed the way it is shown ----------------------------------------------------

def test_item01_code_typed_as_printed_on_the_notice_opens_the_voting_space(page, live, tmp_path, screens):
    site = live()
    _voter_id, email = site.add_voter(code=None)
    notices = tmp_path / "notices.csv"
    result = site.app.test_cli_runner().invoke(args=["codes", "issue", "--out", str(notices)])
    assert result.exit_code == 0, result.output
    with open(notices, encoding="utf-8-sig", newline="") as fh:
        printed = next(csv.DictReader(fh, delimiter=";"))["code_de_vote"]
    # The notice gives the code in groups of four, from an alphabet without « - ».
    assert re.fullmatch(r"\S{4} \S{4} \S{4}", printed) and "-" not in printed

    login(page, site, email)
    go_to_vote_code(page, site)
    expect(page.get_by_text("Les espaces ne comptent pas")).to_be_visible()
    # Typed as shown, with one no-break space as a copy from a PDF gives it.
    enter_code(page, site, printed.replace(" ", "\u00a0", 1))
    expect(page).to_have_url(re.compile(r"/espace-de-vote$"))


def test_item01_a_code_issued_before_keeps_working_with_its_dash(page, live):
    site = live()
    _voter_id, email = site.add_voter(code="Ab3-Cd4$Ef5%")
    login(page, site, email)
    go_to_vote_code(page, site)
    enter_code(page, site, "Ab3- Cd4$ Ef5%")
    expect(page).to_have_url(re.compile(r"/espace-de-vote$"))


# --- 2. who runs this -----------------------------------------------------------------------

def test_item02_every_page_says_who_runs_the_election_its_title_dates_and_state(browser, page, live, tmp_path,
                                                                                 screens):
    logo = tmp_path / "logo.png"
    Image.new("RGB", (96, 48), (0, 90, 60)).save(logo)
    title, organiser = "Élections professionnelles 2026 de l'académie", "Rectorat de l'académie de démonstration"
    site = live(ELECTION_TITLE=title, ELECTION_ORGANISER=organiser, HELP_CONTACT="01 23 45 67 89",
                LOGO_PATH=str(logo))
    voter_id, email = site.add_voter()
    open_until = "Le vote est ouvert jusqu'au mardi 8 décembre 2026 à 18 h."

    # The page an SMS leads to, on a phone with no session: where fear of phishing is highest.
    phone = browser.new_context(viewport=MOBILE, locale="fr-FR")
    try:
        sms_page = phone.new_page()
        sms_page.goto(site.reissue_link(voter_id))
        header = sms_page.get_by_role("banner")
        for said in (organiser, title, "Vote du 1er au 8 décembre 2026"):
            expect(header).to_contain_text(said)
        expect(sms_page.locator("#etat-du-scrutin")).to_have_text(open_until)
        expect(sms_page.locator("main")).to_contain_text(f"Cette page est celle du service de vote de {organiser}")
        assert sms_page.locator("header img.logo").evaluate("i => i.complete && i.naturalWidth") == 96
        help_link = sms_page.get_by_role("contentinfo").get_by_role("link", name="01 23 45 67 89")
        expect(help_link).to_have_attribute("href", "tel:+33123456789")
    finally:
        phone.close()

    login(page, site, email)
    for path in ("/", "/vote", "/reassort", "/reassort/question-defi"):
        page.goto(site.url + path)
        expect(page.get_by_role("banner")).to_contain_text(organiser)
        expect(page.locator("#etat-du-scrutin")).to_have_text(open_until)
        assert page.title().endswith(f" — {title}")
    screens.check(page, "37-identite-du-scrutin")

    # The messages name the election too.
    fill_challenge(page, "sms")
    expect(h1(page)).to_have_text("Lien envoyé")
    assert title in site.outbox()[-1]["body"]


# --- 3. the réassort link on a phone ---------------------------------------------------------

def test_item03_reassort_link_is_on_the_first_screen_of_a_phone(browser, live):
    site = live()
    _voter_id, email = site.add_voter()
    context = browser.new_context(viewport=MOBILE, locale="fr-FR")
    try:
        page = context.new_page()
        login(page, site, email)
        page.goto(site.url + "/vote")
        link = page.get_by_role("link", name=REASSORT_LINK)
        box = link.bounding_box()
        assert box["y"] + box["height"] <= MOBILE["height"], f"lien à y={box['y']:.0f} px sur un écran de 844 px"
        # Under the code field, as the seed puts it, before the CAPTCHA and the buttons.
        assert page.evaluate("""() => {
            const link = document.querySelector('.reassort-link');
            const code = document.getElementById('code'), captcha = document.getElementById('captcha-bloc');
            return !!(code.compareDocumentPosition(link) & Node.DOCUMENT_POSITION_FOLLOWING)
                && !!(link.compareDocumentPosition(captcha) & Node.DOCUMENT_POSITION_FOLLOWING);
        }""")
    finally:
        context.close()


# --- 4. reloads that harm nothing -----------------------------------------------------------

def test_item04_sec32_reloading_each_result_page_sends_nothing_more(page, live, screens):
    site = live()
    _voter_id, email = site.add_voter()
    login(page, site, email)
    page.goto(site.url + "/reassort/question-defi")
    fill_challenge(page, "sms")
    expect(h1(page)).to_have_text("Lien envoyé")
    expect(page).to_have_url(re.compile(r"/reassort/lien-envoye$"))
    sent = len(site.outbox())
    first_link = site.last_link()
    page.reload()
    expect(h1(page)).to_have_text("Lien envoyé")
    expect(page.get_by_role("status")).to_contain_text("06 •• •• •• 78")
    assert len(site.outbox()) == sent and site.last_link() == first_link

    # After FranceConnect: the reload shows « Lien envoyé » again, and nothing leaves.
    page.goto(site.url + "/reassort")
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    page.get_by_label(re.compile(r"^Angela Claire Louise DUBOIS")).check()
    page.get_by_role("button", name="Continuer vers le service").click()
    expect(h1(page)).to_have_text("Lien envoyé")
    expect(page).to_have_url(re.compile(r"/reassort/lien-envoye$"))
    sent = len(site.outbox())
    fc_link = site.last_link()
    page.reload()
    expect(h1(page)).to_have_text("Lien envoyé")
    expect(page.get_by_role("status")).to_contain_text("FranceConnect")
    assert len(site.outbox()) == sent and site.last_link() == fc_link

    # The code shown, then a reload: the page says when it was regenerated, and shows no code.
    page.goto(fc_link)
    page.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()
    code = shown_code(page)
    page.reload()
    expect(h1(page)).to_have_text("Votre code a déjà été régénéré")
    expect(page.get_by_role("status")).to_contain_text(f"régénéré à {PARIS_10H42}")
    expect(page.get_by_role("link", name="Demander un nouveau lien")).to_be_visible()
    assert code not in page.content()
    screens.check(page, "38-code-deja-regenere")
    notices = [m for m in site.outbox() if "modifié" in (m["subject"] or "")]
    assert len(notices) == 1, "une seule régénération"


# --- 5. the question défi form ----------------------------------------------------------------

def test_item05_sec08_question_defi_keeps_what_is_not_secret_warns_then_locks_until_a_time(page, live, screens):
    site = live(CHALLENGE_MAX_FAILURES=3)
    _voter_id, email = site.add_voter()
    login(page, site, email)
    page.goto(site.url + "/reassort/question-defi")
    answer, identifier = page.get_by_label("Réponse à votre question défi"), page.get_by_label(re.compile("^NUMEN ou"))
    phone = page.get_by_label("Numéro de téléphone mobile (si SMS)")

    fill_challenge(page, "sms", answer="mauvaise réponse")
    expect(page.get_by_role("alert")).to_contain_text("Il vous reste 2 essais avant une suspension temporaire")
    # Never the answer nor the number; the channel and the NUMEN stay.
    expect(answer).to_have_value("")
    expect(phone).to_have_value("")
    expect(identifier).to_have_value(NUMEN)
    expect(page.get_by_label("SMS", exact=True)).to_be_checked()
    assert PHONE not in page.content()
    screens.check(page, "39-question-defi-essais-restants")

    # A NUMEN of the wrong shape was the cause: it goes, the channel stays.
    answer.fill(ANSWER)
    identifier.fill("12E12")
    phone.fill(PHONE)
    page.get_by_role("button", name="Recevoir le lien").click()
    expect(page.locator("#identifier-erreur")).to_be_visible()
    expect(identifier).to_have_value("")
    expect(page.get_by_label("SMS", exact=True)).to_be_checked()

    fill_challenge(page, "sms", answer="mauvaise réponse")
    expect(page.get_by_role("alert")).to_contain_text("il vous reste 1 essai")
    fill_challenge(page, "sms", answer="mauvaise réponse")

    # Locked: the time it reopens (10 h 42 + 1 hour), no form, FranceConnect right there.
    expect(h1(page)).to_have_text("Question défi suspendue")
    expect(page.get_by_role("alert")).to_contain_text("suspendue jusqu'à 11 h 42")
    expect(page.get_by_label("Réponse à votre question défi")).to_have_count(0)
    expect(page.get_by_role("button", name="Recevoir le lien")).to_have_count(0)
    screens.check(page, "45-question-defi-suspendue-franceconnect")
    page.goto(site.url + "/reassort/question-defi")
    expect(h1(page)).to_have_text("Question défi suspendue")
    page.get_by_role("link", name="S'identifier avec FranceConnect").click()
    expect(h1(page)).to_have_text("Choisir une identité de test")


def test_item05_only_the_chosen_channels_field_shows_with_or_without_script(browser, live):
    site = live()
    _voter_id, email = site.add_voter()
    for scripted in (True, False):
        context = browser.new_context(java_script_enabled=scripted, locale="fr-FR")
        try:
            page = context.new_page()
            login(page, site, email)
            page.goto(site.url + "/reassort/question-defi")
            phone = page.get_by_label("Numéro de téléphone mobile (si SMS)")
            mail = page.get_by_label("Adresse électronique personnelle (si courriel)")
            expect(phone).to_be_hidden()
            expect(mail).to_be_hidden()
            page.get_by_label("SMS", exact=True).check()
            expect(phone).to_be_visible()
            expect(mail).to_be_hidden()
            page.get_by_label("Courriel", exact=True).check()
            expect(mail).to_be_visible()
            expect(phone).to_be_hidden()
        finally:
            context.close()


# --- 6. the CAPTCHA -----------------------------------------------------------------------------

def test_item06_sec38_captcha_plays_in_the_page_refresh_keeps_the_typing_expiry_said_on_its_field(page, live, screens):
    site = live()
    _voter_id, email = site.add_voter()
    page.goto(site.url + "/connexion")
    # The audio plays in the page: no link leads away to the WAV file (the player's fallback
    # is only shown by a browser that cannot play it).
    expect(page.locator("a[href$='.wav']:visible")).to_have_count(0)
    audio = page.locator(".captcha audio")
    expect(audio).to_have_attribute("controls", "")
    answer_before = site.captcha_answer(page)
    duration = audio.evaluate("""a => new Promise((resolve, reject) => {
        a.addEventListener('loadedmetadata', () => resolve(a.duration), {once: true});
        a.addEventListener('error', () => reject(new Error('audio error')), {once: true});
        a.preload = 'metadata'; a.load(); })""")
    assert 4 <= duration <= 12
    assert page.url.endswith("/connexion") and site.captcha_answer(page) == answer_before
    expect(page.get_by_text("environ huit secondes")).to_be_visible()

    # « Afficher un autre CAPTCHA » keeps the address and the password typed.
    page.get_by_label("Adresse électronique professionnelle").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    before = page.locator(".captcha img").get_attribute("src")
    page.get_by_role("button", name="Afficher un autre CAPTCHA").click()
    expect(page.locator(".captcha img")).not_to_have_attribute("src", before)
    expect(page.get_by_label("Adresse électronique professionnelle")).to_have_value(email)
    expect(page.get_by_label("Mot de passe", exact=True)).to_have_value(PASSWORD)
    expect(page.get_by_role("alert")).to_have_count(0)
    assert "mot de passe" not in page.url.lower() and PASSWORD not in page.url

    # Answered too late: said on the CAPTCHA field, not as the generic login error.
    page.get_by_label("CAPTCHA", exact=True).fill(site.captcha_answer(page))
    site.clock.advance(301)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("#captcha-erreur")).to_contain_text("Ce CAPTCHA a expiré")
    expect(page.locator("#password-erreur")).to_have_count(0)
    expect(page.get_by_role("alert").get_by_role("link")).to_have_text(re.compile(r"^CAPTCHA : Ce CAPTCHA a expiré"))
    screens.check(page, "40-connexion-captcha-expire")
    # The fresh one works.
    login(page, site, email)
    expect(h1(page)).to_have_text("Bienvenue, Angela DUBOIS")


# --- 7. timing (RGAA 13.1) --------------------------------------------------------------------

def test_item07_sec40_countdown_readable_ten_extensions_and_a_warning_before_leaving(page, live):
    site = live()
    voter_id, email = site.add_voter()
    login(page, site, email)  # logged in: « Se déconnecter » is on the page
    freeze_clock(page)
    page.goto(site.reissue_link(voter_id))
    page.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()
    code = shown_code(page)
    # The time left is text a screen reader reaches whenever it wants, in minutes and seconds.
    expect(page.locator("#remaining-text")).to_have_text("Temps restant : 2 minutes")
    assert "Temps restant : 2 minutes" in page.locator("main").aria_snapshot()
    page.clock.fast_forward("00:50")
    expect(page.locator("#remaining-text")).to_have_text("Temps restant : 1 minute 10 secondes")

    for _ in range(10):
        page.get_by_role("button", name="Prolonger l'affichage de 120 secondes").click()
    expect(page.locator("#remaining")).to_have_text("21 minutes 10 secondes")
    page.clock.fast_forward("21:00")
    expect(page.locator("#remaining")).to_have_text("10 secondes")
    assert shown_code(page) == code

    # « Se déconnecter » while the code is shown asks first; « Annuler » keeps the code.
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("button", name="Copier le code")).to_be_visible()
    assert asked and "encore affiché" in asked[0]
    assert shown_code(page) == code
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/connexion$"))


# --- 8. errors and titles ---------------------------------------------------------------------

def test_item08_errors_take_the_focus_in_page_order_and_titles_say_so(page, live):
    site = live()
    voter_id, email = site.add_voter()
    page.goto(site.url + "/connexion")
    page.get_by_role("button", name="Se connecter").click()
    summary = page.get_by_role("alert")
    expect(page.locator("#erreurs")).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Erreur : Connexion — "))
    # In the order of the page: the CAPTCHA is its last field.
    expect(summary.get_by_role("link")).to_have_text([
        re.compile("^Adresse électronique professionnelle :"), re.compile("^Mot de passe :"),
        re.compile("^CAPTCHA :")])

    login(page, site, email)
    page.goto(site.url + "/reassort/question-defi")
    expect(page).to_have_title(re.compile(r"^Question défi — "))
    page.get_by_role("button", name="Recevoir le lien").click()
    expect(page.locator("#erreurs")).to_be_focused()
    expect(page).to_have_title(re.compile(r"^Erreur : Question défi — "))
    page.get_by_role("alert").get_by_role("link", name=re.compile(r"^Recevoir le lien par")).click()
    expect(page.locator("#channel-0")).to_be_focused()
    for radio in page.get_by_role("radio").all():
        expect(radio).to_have_attribute("aria-invalid", "true")
        expect(radio).to_have_attribute("aria-describedby", re.compile(r"\bchannel-erreur\b"))

    # /reassort and /reassort/regenerer no longer share a title.
    page.goto(site.url + "/reassort")
    choice = page.title()
    page.goto(site.reissue_link(voter_id))
    assert page.title() != choice and page.title().startswith("Réassort du code de vote")


# --- 9. before and after the poll -------------------------------------------------------------

def test_item09_sec30_before_the_opening_and_after_the_close_the_pages_say_so(page, live, screens):
    site = live()
    _voter_id, email = site.add_voter()

    site.clock.t = paris("2026-12-08T18:30:00+01:00")
    login(page, site, email)
    expect(page.locator("#etat-du-scrutin")).to_have_text("Le vote est clos depuis le mardi 8 décembre 2026 à 18 h.")
    expect(page.get_by_role("link", name="Consulter les scrutins")).to_have_count(0)
    screens.check(page, "41-accueil-vote-clos")
    page.goto(site.url + "/vote")
    expect(page.get_by_label("Code de vote")).to_have_count(0)
    expect(page.get_by_role("link", name=REASSORT_LINK)).to_have_count(0)
    expect(page.get_by_text("Il n'est plus possible de voter")).to_be_visible()
    screens.check(page, "42-code-de-vote-vote-clos")
    page.goto(site.url + "/reassort")
    expect(h1(page)).to_have_text("Le vote est clos")

    site.clock.t = paris("2026-11-30T12:00:00+01:00")
    login(page, site, email)
    page.goto(site.url + "/vote")
    expect(page.locator("#etat-du-scrutin")).to_contain_text(
        "Le vote n'est pas encore ouvert : il ouvrira le mardi 1er décembre 2026 à 9 h")
    expect(page.get_by_label("Code de vote")).to_have_count(0)
    expect(page.get_by_role("link", name=REASSORT_LINK)).to_be_visible()  # réassort is open until the close
    screens.check(page, "43-code-de-vote-pas-encore-ouvert")


# --- 10. the official FranceConnect button ------------------------------------------------------

def test_item10_sec18_franceconnect_button_is_the_official_one_and_self_hosted(page, live):
    site = live()
    _voter_id, email = site.add_voter()
    login(page, site, email)
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    page.goto(site.url + "/reassort")
    page.wait_for_load_state("load")
    assert fetched and all(url.startswith((site.url + "/", "data:")) for url in fetched), fetched
    assert any(url.endswith("/static/vendor/dsfr/connect.css") for url in fetched)

    button = page.get_by_role("link", name="S'identifier avec FranceConnect")
    expect(button).to_have_class(re.compile(r"\bfr-connect\b"))
    expect(button).to_have_attribute("href", "/reassort/franceconnect")
    expect(button.locator(".fr-connect__login")).to_have_text("S'identifier avec")
    expect(button.locator(".fr-connect__brand")).to_have_text("FranceConnect")
    look = button.evaluate("""e => ({bg: getComputedStyle(e).backgroundColor, color: getComputedStyle(e).color,
                                     logo: getComputedStyle(e, '::before').backgroundImage,
                                     font: getComputedStyle(e).fontFamily})""")
    assert look["bg"] == "rgb(0, 0, 145)" and look["color"] == "rgb(245, 245, 254)"
    assert look["logo"].startswith('url("data:image/svg+xml') and "Marianne" not in look["font"]
    assert not [f for f in page.evaluate("() => [...document.fonts].map(f => f.family)") if "Marianne" in f]

    what = page.get_by_role("link", name=re.compile(r"^Qu'est-ce que FranceConnect \?"))
    expect(what).to_have_attribute("target", "_blank")
    expect(what).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    expect(what).to_contain_text("(nouvelle fenêtre)")

    # In forced colours (Windows high contrast) the button keeps a visible border.
    page.emulate_media(forced_colors="active")
    assert button.evaluate("e => getComputedStyle(e).borderTopStyle") == "solid"
    page.emulate_media(forced_colors="none")

    sheet = page.request.get(site.url + "/static/vendor/dsfr/connect.css").text()
    assert "DSFR v1.14.4" in sheet and "SPDX-License-Identifier: MIT" in sheet and "@font-face" not in sheet


# --- 11. legal and help ---------------------------------------------------------------------------

def test_item11_footer_leads_to_the_accessibility_statement_and_to_help(page, live, screens):
    site = live(HELP_CONTACT="https://assistance.example.org/vote")
    page.goto(site.url + "/connexion")
    footer = page.get_by_role("contentinfo")
    expect(footer.get_by_role("link", name="https://assistance.example.org/vote")).to_have_attribute(
        "href", "https://assistance.example.org/vote")
    footer.get_by_role("link", name="Accessibilité : partiellement conforme").click()
    expect(h1(page)).to_have_text("Déclaration d'accessibilité")
    main = page.locator("main")
    expect(main).to_contain_text("partiellement conforme avec le référentiel général d'amélioration de "
                                 "l'accessibilité (RGAA), version 4.1.2")
    expect(main.get_by_role("link", name="https://assistance.example.org/vote")).to_be_visible()
    expect(main).to_contain_text("Défenseur des droits")
    for section in ("État de conformité", "Contenus non accessibles", "Retour d'information et contact",
                    "Voies de recours"):
        expect(page.get_by_role("heading", name=section)).to_be_visible()
    screens.check(page, "44-declaration-accessibilite")


# --- 12. words ------------------------------------------------------------------------------------

FORBIDDEN_WORDS = re.compile(r"\be-?mail\b|requête|minute\(s\)|dans les 0 minute", re.IGNORECASE)


def test_item12_sec23_one_word_per_thing_no_jargon_and_the_seeds_advice(page, live):
    site = live(REISSUE_LINK_MAX_AGE=90)
    voter_id, email = site.add_voter()

    def no_bad_word():
        text = page.locator("body").inner_text()
        assert not FORBIDDEN_WORDS.search(text), (page.url, FORBIDDEN_WORDS.search(text).group(0))

    page.goto(site.url + "/connexion")
    no_bad_word()
    login(page, site, email)
    for path in ("/", "/vote", "/reassort", "/reassort/question-defi", "/nulle-part"):
        page.goto(site.url + path)
        no_bad_word()
    page.goto(site.url + "/vote")
    expect(page.get_by_role("link", name="Retour connexion")).to_have_attribute("href", "/connexion")

    page.goto(site.url + "/reassort/question-defi")
    fill_challenge(page, "sms")
    no_bad_word()
    expect(page.get_by_text("Ce lien est valable 1 minute 30 secondes")).to_be_visible()
    # The masked number, read as words rather than « puce puce puce ».
    expect(page.get_by_role("status")).to_contain_text("numéro commençant par 06 et finissant par 78")
    expect(page.locator(".masked")).to_have_attribute("aria-hidden", "true")

    page.goto(site.last_link())
    advice = page.locator(".notice-warning")
    for words in ("appareil photo", "crayon", "caractères spéciaux et alphanumériques", "120 secondes"):
        expect(advice).to_contain_text(words)
    no_bad_word()

    # The SMS (and the e-mail of the other channel) say to get ready to write the code down.
    page.goto(site.url + "/reassort/question-defi")
    fill_challenge(page, "email")
    sms, mail = site.outbox()[-2:]
    assert sms["channel"] == "sms" and mail["channel"] == "email"
    for message in (sms, mail):
        assert "Préparez de quoi noter : le code ne s'affichera que 120 secondes" in message["body"]

    # The form expired (CSRF): « Formulaire expiré », no « Requête invalide ».
    page.context.clear_cookies()
    page.goto(site.url + "/connexion")
    page.context.clear_cookies()
    page.get_by_role("button", name="Se connecter").click()
    expect(h1(page)).to_have_text("Formulaire expiré")
    no_bad_word()


# --- RGAA 10.4 and 10.12: text zoomed to 200 % and text spacing ------------------------------------

TEXT_SPACING = """() => {
  const style = document.createElement('style');
  style.textContent = '* { line-height: 1.5 !important; letter-spacing: .12em !important; '
    + 'word-spacing: .16em !important; } p { margin-bottom: 2em !important; }';
  document.head.appendChild(style);
}"""
CLIPPED = """() => {
  const doc = document.documentElement, problems = [];
  if (doc.scrollWidth > doc.clientWidth) problems.push(`défilement horizontal : ${doc.scrollWidth}px`);
  for (const el of document.querySelectorAll('main *, header *, footer *')) {
    const s = getComputedStyle(el);
    if (['hidden', 'clip'].includes(s.overflowX) && el.scrollWidth > el.clientWidth + 1
        && !el.classList.contains('sr-only')) problems.push(`texte coupé : ${el.tagName} ${el.className}`);
  }
  return problems;
}"""


@pytest.mark.parametrize("path", ["/connexion", "/vote", "/reassort", "/reassort/question-defi", "/accessibilite"])
def test_rgaa_10_4_and_10_12_zoom_and_text_spacing_keep_the_pages_whole(page, live, path):
    site = live()
    _voter_id, email = site.add_voter()
    login(page, site, email)
    page.goto(site.url + path)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
    assert page.evaluate(CLIPPED) == []
    page.evaluate("() => { document.documentElement.style.fontSize = ''; }")
    page.set_viewport_size({"width": 320, "height": 640})
    page.evaluate(TEXT_SPACING)
    assert page.evaluate(CLIPPED) == []


def test_rgaa_10_4_and_10_12_the_new_code_stays_whole_zoomed_and_spaced(page, live):
    site = live()
    voter_id, _email = site.add_voter()
    page.goto(site.reissue_link(voter_id))
    page.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()
    shown_code(page)
    page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
    assert page.evaluate(CLIPPED) == []
    page.evaluate("() => { document.documentElement.style.fontSize = ''; }")
    page.set_viewport_size({"width": 320, "height": 640})
    page.evaluate(TEXT_SPACING)
    assert page.evaluate(CLIPPED) == []
