"""Steps of the voter's account pages through the Flask test client, shared by tests.

The links of these pages leave *after* the answer (``reassort.web.after_response``:
when the server closes the response).  The test client closes it only when asked,
so the POSTs here pass ``buffered=True``: the body is read and the response closed
before the call returns, as a WSGI server does once the last byte is out.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.conftest import csrf_of
from tests.test_captcha import answer, challenge_of

PAGES = {"password": "/mot-de-passe-oublie", "activation": "/nouveau-lien-activation"}
RESET_RE = re.compile(r"https://vote\.example\.fr/mot-de-passe/lien/\S+")
ACTIVATION_RE = re.compile(r"https://vote\.example\.fr/activation/\S+")
NEW_PASSWORD = "une toute nouvelle phrase de passe"


def ask_account_link(client, email: str, form: str = "password", captcha: str | None = None, buffered=True):
    """POST one of the two neutral forms (``password`` or ``activation``); the response, closed."""
    url = PAGES[form]
    page = client.get(url)
    data = {"email": email, "csrf_token": csrf_of(page)}
    if client.application.config["CAPTCHA_ENABLED"]:
        data["captcha"] = answer(client.application, challenge_of(page)) if captcha is None else captcha
    return client.post(url, data=data, buffered=buffered)


def links_in(messages, pattern=RESET_RE) -> list[str]:
    return [m for msg in messages for m in pattern.findall(msg["body"])]


def last_reset_link(messages) -> str:
    found = links_in(messages)
    assert found, "no forgotten-password link in the outbox"
    return found[-1]


def last_activation_link(messages) -> str:
    found = links_in(messages, ACTIVATION_RE)
    assert found, "no activation link in the outbox"
    return found[-1]


def path_of(link: str) -> str:
    return urlsplit(link).path


def token_of(link: str) -> str:
    return path_of(link).rsplit("/", 1)[1]


def open_reset_link(client, link: str):
    return client.get(path_of(link))


def set_new_password(client, password: str = NEW_PASSWORD, confirm: str | None = None, link: str | None = None):
    """Open ``link`` (if given), then POST the new password; the response (closed), or the refusal met first."""
    if link is not None:
        opened = open_reset_link(client, link)
        if opened.status_code != 303:
            return opened
    page = client.get("/mot-de-passe/nouveau")
    if page.status_code != 200:
        return page
    return client.post("/mot-de-passe/nouveau", data={
        "password": password, "confirm": password if confirm is None else confirm, "csrf_token": csrf_of(page)},
        buffered=True)


def post_account_form(client, url: str, data: dict):
    """GET a « Mon compte » form for its CSRF token, then POST ``data``; the response, closed."""
    page = client.get(url)
    return client.post(url, data={**data, "csrf_token": csrf_of(page)}, buffered=True)


def change_password(client, current: str, new: str = NEW_PASSWORD, confirm: str | None = None):
    return post_account_form(client, "/mon-compte/mot-de-passe", {
        "current_password": current, "password": new, "confirm": new if confirm is None else confirm})


def change_challenge(client, current: str, question: str = "q4", answer: str = "Astronaute"):
    return post_account_form(client, "/mon-compte/question-defi", {
        "current_password": current, "question": question, "answer": answer})
