"""Steps of the réassort journey through the Flask test client, shared by tests."""

import re
from urllib.parse import urlsplit

from tests.conftest import ANSWER, NUMEN, csrf_of, post_form

PHONE = "06 12 34 56 78"
PERSONAL_EMAIL = "jeanne.perso@exemple.org"
LINK_RE = re.compile(r"https://vote\.example\.fr/reassort/lien/\S+")


def ask_link(client, channel="email", answer=ANSWER, identifier=NUMEN, phone=PHONE, email=PERSONAL_EMAIL):
    """POST the question défi; a success redirects to « Lien envoyé », whose page is returned."""
    data = {"answer": answer, "identifier": identifier, "channel": channel}
    if channel == "sms":
        data["phone"] = phone
    else:
        data["personal_email"] = email
    return follow_result(client, post_form(client, "/reassort/question-defi", data))


#: The pages an outcome redirects to (post/redirect/get: a reload sends nothing again).
RESULT_PAGES = ("/reassort/lien-envoye", "/reassort/franceconnect/identite-non-reconnue")


def follow_result(client, response):
    """Follow a redirect to a result page, as the browser does; any other answer as it is."""
    if response.status_code == 303 and response.headers["Location"].endswith(RESULT_PAGES):
        return client.get(response.headers["Location"])
    return response


def last_link(messages) -> str:
    links = [m for msg in messages for m in LINK_RE.findall(msg["body"])]
    assert links, "no link in the outbox"
    return links[-1]


def link_path(link: str) -> str:
    return urlsplit(link).path


def open_link(client, link):
    return client.get(link_path(link))


def regenerate(client, link=None):
    """Open the link (if given), then POST the regeneration; returns the response."""
    if link is not None:
        opened = open_link(client, link)
        if opened.status_code != 303:
            return opened
    page = client.get("/reassort/regenerer")
    if page.status_code != 200:
        return page
    return client.post("/reassort/regenerer", data={"csrf_token": csrf_of(page)})


def code_on_page(response) -> str:
    match = re.search(r'<input[^>]*\bid="code-value"[^>]*\bvalue="([^"]+)"', response.get_data(as_text=True))
    assert match, "no code on the page"
    import html
    return html.unescape(match.group(1))
