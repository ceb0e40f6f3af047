"""The question défi page for a voter in a hurry (issue 13 item 5; SPEC §2 anti-automation): what it
keeps after an error, what it never echoes, attempts left, and the lock with its unlock time."""

import re

from tests.conftest import NUMEN, csrf_of, get_voter, page_text
from tests.flows import PHONE, ask_link

LOCK_START = 1796204520.0  # 2026-12-02T10:42:00+01:00


def field_value(html: str, name: str) -> str:
    match = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', html)
    assert match, name
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def test_after_a_wrong_answer_the_channel_and_numen_stay_never_the_answer_nor_the_number(logged_in):
    client, _, _ = logged_in
    html = page_text(ask_link(client, channel="sms", answer="mauvaise réponse"))
    assert field_value(html, "answer") == "" and field_value(html, "phone") == ""
    assert field_value(html, "identifier") == NUMEN
    assert re.search(r'<input[^>]*\bchecked\b[^>]*value="sms"|<input[^>]*value="sms"[^>]*\bchecked\b', html)
    assert PHONE not in html and "12 34 56" not in html and "mauvaise réponse" not in html


def test_an_identifier_of_the_wrong_shape_is_not_kept(logged_in):
    client, _, _ = logged_in
    html = page_text(ask_link(client, identifier="12E12"))
    assert field_value(html, "identifier") == "" and "Saisissez votre NUMEN" in html


def test_sec08_page_says_how_many_attempts_are_left(app, logged_in):
    client, voter_id, _ = logged_in
    most = app.config["CHALLENGE_MAX_FAILURES"]
    assert "Il vous reste" not in page_text(client.get("/reassort/question-defi"))
    assert f"Il vous reste {most - 1} essais" in page_text(ask_link(client, answer="mauvaise réponse"))
    # Said again on the next visit, before anything is typed.
    assert f"il vous reste {most - 1} essais avant une suspension" in page_text(client.get("/reassort/question-defi"))
    assert get_voter(app, voter_id).challenge_failures == 1


def test_sec08_locked_page_has_no_form_says_until_when_and_offers_franceconnect(settings, clock, request):
    settings.update(FRANCECONNECT_STANDIN=True, CHALLENGE_MAX_FAILURES=2)
    clock.t = LOCK_START
    client, _, _ = request.getfixturevalue("logged_in")
    ask_link(client, answer="mauvaise réponse")
    locked = ask_link(client, answer="mauvaise réponse")
    html = page_text(locked)
    assert locked.status_code == 200 and "Question défi suspendue" in html
    assert "suspendue jusqu'à 11 h 42" in html  # 10 h 42 + CHALLENGE_LOCK_SECONDS (1 hour), Paris time
    assert 'name="answer"' not in html and "Recevoir le lien" not in html
    assert 'class="fr-connect" href="/reassort/franceconnect"' in html
    # Posting anyway while locked: refused (429), the same page.
    again = client.post("/reassort/question-defi", data={"csrf_token": csrf_of(client.get("/reassort"))})
    assert again.status_code == 429 and "suspendue jusqu'à 11 h 42" in page_text(again)


def test_channel_is_called_courriel_and_the_destination_not_stored_is_said_before_choosing(logged_in):
    client, _, _ = logged_in
    html = page_text(client.get("/reassort/question-defi"))
    assert ">Courriel</label>" in html and "E-MAIL" not in html
    assert "il n'est conservé nulle part" in html
