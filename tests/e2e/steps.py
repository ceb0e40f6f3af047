"""Steps of the voter journey in the browser, shared by the end-to-end tests.

Each step does what a voter does — labels, buttons and links found by their
French text — and leaves the page where the voter would be.
"""

from __future__ import annotations

import datetime as dt
import re
import weakref

from playwright.sync_api import expect

from tests.conftest import ANSWER, NUMEN, PASSWORD

PHONE = "06 12 34 56 78"
PERSONAL_EMAIL = "jeanne.perso@exemple.org"

#: Pages whose clock is paused (axe-core cannot run in them as they are, see conftest).
FROZEN_CLOCK: weakref.WeakSet = weakref.WeakSet()


def login(page, live, email: str, password: str = PASSWORD) -> None:
    """Log in at /connexion (CAPTCHA solved); the page is then the home page or an error."""
    page.goto(live.url + "/connexion")
    page.get_by_label("Adresse électronique professionnelle").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)
    page.get_by_label("CAPTCHA", exact=True).fill(live.captcha_answer(page))
    page.get_by_role("button", name="Se connecter").click()


def enter_code(page, live, code: str) -> None:
    """Type a vote code and the CAPTCHA at /vote (the page must be the vote-code page)."""
    page.get_by_label("Code de vote").fill(code)
    page.get_by_label("CAPTCHA", exact=True).fill(live.captcha_answer(page))
    page.get_by_role("button", name="Valider").click()


def go_to_vote_code(page, live) -> None:
    page.goto(live.url + "/")
    page.get_by_role("link", name="Consulter les scrutins").click()
    page.wait_for_url(re.compile(r"/vote$"))


def fill_challenge(page, channel: str = "sms", answer: str = ANSWER, identifier: str = NUMEN,
                   phone: str = PHONE, email: str = PERSONAL_EMAIL) -> None:
    """Fill and send the question défi form (the page must be /reassort/question-defi)."""
    page.get_by_label("Réponse à votre question défi").fill(answer)
    page.get_by_label("NUMEN ou 10 premiers caractères du n° de sécurité sociale").fill(identifier)
    page.get_by_label("SMS" if channel == "sms" else "Courriel", exact=True).check()
    if channel == "sms":
        page.get_by_label("Numéro de téléphone mobile (si SMS)").fill(phone)
    else:
        page.get_by_label("Adresse électronique personnelle (si courriel)").fill(email)
    page.get_by_role("button", name="Recevoir le lien").click()


def ask_link(page, live, channel: str = "sms") -> None:
    """From the vote-code page: the réassort link, the question défi, the link sent."""
    page.get_by_role("link", name="Cliquez ici pour obtenir un réassort de votre code de vote").click()
    page.get_by_role("link", name="Répondre à ma question défi").click()
    fill_challenge(page, channel)


def shown_code(page) -> str:
    """The new code on the reveal page, once its script has run: the code is in the DOM
    before the script is, and moving the fake clock earlier would miss the countdown."""
    expect(page.locator("html")).to_have_class(re.compile(r"\bhas-js\b"))
    return page.locator("#code-value").input_value()


def freeze_clock(page) -> None:
    """Playwright's fake clock, paused: page time moves only with ``page.clock.fast_forward``
    (the 120-second display is checked second by second without waiting)."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    page.clock.install(time=now)
    # Far enough ahead that a loaded machine never reaches it before the pause applies
    # (pausing at a time already past would fail).
    page.clock.pause_at(now + dt.timedelta(minutes=5))
    FROZEN_CLOCK.add(page)
