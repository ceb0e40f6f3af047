"""Accessibility of every page and state (WCAG 2.1 AA, RGAA), in headless Chromium.

The pages of the happy path are checked in test_journey.py as the voter reaches
them; here come the error states, the keyboard-only run, the audio CAPTCHA and
what a screen reader hears when the new code is shown.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from reassort.rules import spelling
from tests.conftest import ANSWER, NIR10, PASSWORD
from tests.e2e.steps import PHONE, fill_challenge, freeze_clock, go_to_vote_code, login, shown_code

pytestmark = pytest.mark.browser

LOGIN_FAILED = "Adresse électronique ou mot de passe incorrect, ou CAPTCHA erroné."
WRONG_CHALLENGE = "Les informations saisies ne permettent pas de vous identifier."


def h1(page):
    return page.get_by_role("heading", level=1)


# --- error states ------------------------------------------------------------------------

def test_login_activation_and_generic_error_pages_are_accessible(page, context, live, screens):
    site = live()
    voter_id, email = site.add_voter()

    page.goto(site.url + "/connexion")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_contain_text("Le formulaire contient 3 erreurs.")
    expect(page.get_by_label("Adresse électronique professionnelle")).to_have_attribute("aria-invalid", "true")
    screens.check(page, "02-connexion-champs-manquants")

    login(page, site, email, "pas le bon mot de passe")
    expect(page.get_by_role("alert")).to_contain_text(LOGIN_FAILED)
    screens.check(page, "03-connexion-erreur")

    login(page, site, email)
    expect(h1(page)).to_have_text("Bienvenue, Angela DUBOIS")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("status")).to_have_text("Vous êtes déconnecté.")
    screens.check(page, "06-deconnecte")

    # A form left open after its session ended (the CSRF token no longer matches).
    context.clear_cookies()
    page.get_by_label("Adresse électronique professionnelle").fill(email)
    page.get_by_role("button", name="Se connecter").click()
    expect(h1(page)).to_have_text("Formulaire expiré")
    expect(page.get_by_text("Le formulaire a expiré")).to_be_visible()
    screens.check(page, "05-formulaire-expire")

    new_voter, _ = site.add_voter(activated=False)
    page.goto(site.activation_link(new_voter))
    page.get_by_label("Nouveau mot de passe").fill("court")
    page.get_by_label("Confirmation du mot de passe").fill("différent")
    page.get_by_role("button", name="Activer mon compte").click()
    expect(page.get_by_role("alert")).to_contain_text("erreurs")
    screens.check(page, "08-activation-erreurs")

    page.goto(site.url + "/activation/" + "a" * 40)
    expect(h1(page)).to_have_text("Ce lien d'activation n'est pas valide")
    screens.check(page, "09-activation-lien-invalide")

    page.goto(site.url + "/nulle-part")
    expect(h1(page)).to_have_text("Page introuvable")
    screens.check(page, "36-page-introuvable")


def test_question_defi_states_are_accessible(page, live, screens):
    site = live(CHALLENGE_MAX_FAILURES=2)
    _voter_id, email = site.add_voter()
    login(page, site, email)
    go_to_vote_code(page, site)
    page.get_by_role("link", name="Cliquez ici pour obtenir un réassort de votre code de vote").click()
    expect(h1(page)).to_have_text("Obtenir un nouveau code de vote")
    expect(page.get_by_role("link", name="S'identifier avec FranceConnect")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Qu'est-ce que FranceConnect ?"))).to_be_visible()
    screens.check(page, "14-reassort-choix")

    page.get_by_role("link", name="Répondre à ma question défi").click()
    expect(page.get_by_text("Votre question Défi :")).to_be_visible()
    expect(page.get_by_text("il n'est conservé nulle part")).to_be_visible()
    screens.check(page, "15-question-defi")

    page.get_by_role("button", name="Recevoir le lien").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Le formulaire contient 3 erreurs.")
    # Each error of the summary leads to its field (RGAA 11.10).
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Réponse à votre question défi")).to_be_focused()
    screens.check(page, "16-question-defi-champs")

    fill_challenge(page, "email", email=email)
    expect(page.get_by_text("Indiquez une adresse personnelle, différente de votre adresse "
                            "professionnelle.").first).to_be_visible()
    screens.check(page, "17-question-defi-adresse-pro")

    fill_challenge(page, "sms", answer="mauvaise réponse", identifier=NIR10)
    expect(page.get_by_role("alert")).to_contain_text(WRONG_CHALLENGE)
    assert PHONE not in page.content()
    screens.check(page, "18-question-defi-refus")

    fill_challenge(page, "sms", answer="mauvaise réponse")
    expect(page.get_by_role("alert")).to_contain_text("la question défi est suspendue")
    screens.check(page, "19-question-defi-suspendue")


def test_throttled_and_closed_pages_are_accessible(page, live, screens):
    site = live(LOGIN_LIMIT_PER_ACCOUNT="1 per hour", ELECTION_OPENS_AT="2026-11-24T09:00:00+01:00",
                ELECTION_CLOSES_AT="2026-12-01T18:00:00+01:00")
    _first, first_email = site.add_voter()
    _second, second_email = site.add_voter()
    login(page, site, first_email, "pas le bon mot de passe")
    login(page, site, first_email)
    expect(h1(page)).to_have_text("Trop de tentatives")
    screens.check(page, "04-trop-de-tentatives")

    login(page, site, second_email)
    page.goto(site.url + "/reassort")
    expect(h1(page)).to_have_text("Le vote est clos")
    screens.check(page, "35-scrutin-clos")


# --- keyboard only -----------------------------------------------------------------------

_FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  return {tag: el.tagName.toLowerCase(), id: el.id, text: (el.textContent || el.name || '').trim().slice(0, 40),
          ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2, visible: r.width > 0 && r.height > 0};
}"""


def tab_to(page, selector: str, limit: int = 40) -> None:
    """Press Tab until ``selector`` has the focus; every element met must show a focus ring."""
    page.wait_for_load_state("load")  # the style sheet too, not just the heading
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUS_RING)
        if focused is None:
            continue
        if focused["tag"] != "audio":  # the player's own controls draw their focus inside
            assert focused["ring"] and focused["visible"], f"focus invisible sur {focused}"
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} jamais atteint au clavier")


def test_question_defi_flow_with_the_keyboard_only(page, live):
    """Tab, Space and Enter (and typing into fields): login, réassort, regeneration, extension."""
    site = live()
    _voter_id, email = site.add_voter()
    keyboard = page.keyboard

    page.goto(site.url + "/connexion")
    tab_to(page, ".skip-link")
    box = page.locator(".skip-link").bounding_box()
    assert box["y"] >= 0 and box["height"] >= 44, "le lien d'évitement doit apparaître au focus"
    keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    tab_to(page, "#email")
    keyboard.type(email)
    tab_to(page, "#password")
    keyboard.type(PASSWORD)
    tab_to(page, "#captcha")
    keyboard.type(site.captcha_answer(page))
    keyboard.press("Enter")
    expect(h1(page)).to_have_text("Bienvenue, Angela DUBOIS")

    tab_to(page, "a[href='/vote']")
    keyboard.press("Enter")
    expect(h1(page)).to_have_text("Saisie du code de vote")
    tab_to(page, "a[href='/reassort']")
    keyboard.press("Enter")
    expect(h1(page)).to_have_text("Obtenir un nouveau code de vote")
    tab_to(page, "a[href='/reassort/question-defi']")
    keyboard.press("Enter")
    expect(h1(page)).to_have_text("Réassort par question défi")

    tab_to(page, "#answer")
    keyboard.type(ANSWER)
    tab_to(page, "#identifier")
    keyboard.type(NIR10)
    tab_to(page, "input[name=channel]")
    keyboard.press("Space")
    expect(page.get_by_label("SMS", exact=True)).to_be_checked()
    tab_to(page, "#phone")
    keyboard.type(PHONE)
    tab_to(page, "button[type=submit]:not(.btn-tertiary)")
    keyboard.press("Space")
    expect(h1(page)).to_have_text("Lien envoyé")

    freeze_clock(page)
    page.goto(site.last_link())  # opened from the SMS
    expect(h1(page)).to_have_text("Réassort du code de vote")
    tab_to(page, "main button[type=submit]")
    keyboard.press("Enter")
    expect(h1(page)).to_have_text("Votre nouveau code de vote")
    code = shown_code(page)
    page.clock.fast_forward("01:50")
    tab_to(page, "#extend-display")
    keyboard.press("Space")
    expect(page.locator("#countdown-live")).to_have_text("Affichage prolongé : il reste 2 minutes 10 secondes.")
    assert shown_code(page) == code
    page.clock.fast_forward("02:10")
    # The extend button went with the code: the focus moves to the notice that replaced it.
    expect(page.locator("#display-over")).to_be_focused()


# --- the audio CAPTCHA -------------------------------------------------------------------

_FETCH_AND_DECODE = """async (url) => {
  const response = await fetch(url);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const text = (i, n) => String.fromCharCode(...bytes.slice(i, i + n));
  const view = new DataView(bytes.buffer);
  const header = {riff: text(0, 4), wave: text(8, 4), fmt: text(12, 4), format: view.getUint16(20, true),
                  channels: view.getUint16(22, true), rate: view.getUint32(24, true),
                  byteRate: view.getUint32(28, true), bits: view.getUint16(34, true)};
  let offset = 12, dataSize = 0;
  while (offset + 8 <= bytes.length) {
    const id = text(offset, 4), size = view.getUint32(offset + 4, true);
    if (id === 'data') { dataSize = size; break; }
    offset += 8 + size + (size % 2);
  }
  const decoded = await new OfflineAudioContext(1, 1, 8000).decodeAudioData(bytes.buffer.slice(0));
  const samples = decoded.getChannelData(0);
  let peak = 0;
  for (const s of samples) peak = Math.max(peak, Math.abs(s));
  return {status: response.status, type: response.headers.get('content-type'), header,
          headerSeconds: dataSize / header.byteRate, decodedSeconds: decoded.duration, peak};
}"""


def test_audio_captcha_is_real_audio_in_the_browser(page, live):
    site = live()
    page.goto(site.url + "/connexion")
    image = page.locator(".captcha img")
    alt = image.get_attribute("alt")
    assert "CAPTCHA" in alt and site.captcha_answer(page) not in alt  # says what it is, not the answer
    audio = page.locator(".captcha audio")
    expect(audio).to_have_attribute("aria-label", "CAPTCHA audio : six chiffres énoncés en français")
    found = page.evaluate(_FETCH_AND_DECODE, audio.get_attribute("src"))
    assert found["status"] == 200 and found["type"].startswith("audio/wav")
    header = found["header"]
    assert (header["riff"], header["wave"], header["fmt"], header["format"]) == ("RIFF", "WAVE", "fmt ", 1)
    assert (header["channels"], header["rate"], header["bits"]) == (1, 16000, 16)
    # Six digits spoken clearly in French over a light noise: under 12 seconds, decoded whole.
    assert 4 <= found["headerSeconds"] <= 12
    assert abs(found["decodedSeconds"] - found["headerSeconds"]) < 0.1
    assert found["peak"] > 0.1, "un enregistrement muet n'est pas une alternative audio"

    # The player itself loads it (a fresh rendering: noise and timing differ at each request).
    duration = page.evaluate("""() => new Promise((resolve, reject) => {
        const a = document.querySelector('.captcha audio');
        a.addEventListener('loadedmetadata', () => resolve(a.duration), {once: true});
        a.addEventListener('error', () => reject(new Error('audio error')), {once: true});
        a.preload = 'metadata'; a.load();
    })""")
    assert 4 <= duration <= 12

    # The refresh button offers another challenge.
    before = image.get_attribute("src")
    page.get_by_role("button", name="Afficher un autre CAPTCHA").click()
    expect(page.locator(".captcha img")).not_to_have_attribute("src", before)
    expect(page.get_by_label("CAPTCHA", exact=True)).to_be_visible()


# --- what a screen reader hears ----------------------------------------------------------

def test_new_code_is_spelled_and_its_countdown_announced(page, live):
    site = live()
    voter_id, _email = site.add_voter()
    freeze_clock(page)
    page.goto(site.reissue_link(voter_id))
    page.get_by_role("button", name="RÉGÉNÉRER MON CODE DE VOTE").click()
    code = shown_code(page)

    live_region = page.locator("#countdown-live")
    expect(live_region).to_have_attribute("role", "status")
    expect(live_region).to_have_attribute("aria-live", "polite")
    spelled = f"Code de vote, 12 caractères : {spelling.spell(code)}."
    # The code reaches assistive technologies spelled, and raw in one read-only field (a braille display
    # reads it character by character); the big glyphs are hidden from them.
    tree = page.locator("main").aria_snapshot()
    assert spelled in tree and tree.count(code) == 1
    raw = page.get_by_role("textbox", name=re.compile("Le même code en une seule suite"))
    expect(raw).to_have_value(code)
    expect(raw).to_have_attribute("readonly", "")
    expect(page.locator(".code-display")).to_have_attribute("aria-hidden", "true")
    expect(page.get_by_text(spelled)).to_have_class(re.compile(r"\bsr-only\b"))

    heard = [live_region.text_content()]
    for step in ("00:30", "01:10", None, "02:00", "00:21"):
        if step is None:
            page.get_by_role("button", name="Prolonger l'affichage de 120 secondes").click()
        else:
            page.clock.fast_forward(step)
        if live_region.count():
            heard.append(live_region.text_content())
    assert heard == [
        "Nouveau code affiché pendant 2 minutes.",
        "Le code reste affiché 1 minute 30 secondes.",
        "Attention : le code disparaîtra dans 20 secondes. Vous pouvez prolonger l'affichage.",
        "Affichage prolongé : il reste 2 minutes 20 secondes.",
        "Attention : le code disparaîtra dans 20 secondes. Vous pouvez prolonger l'affichage.",
        "Affichage terminé : le code n'est plus affiché.",
    ]
    assert code not in page.content()
