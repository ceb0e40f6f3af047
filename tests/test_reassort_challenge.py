"""The question défi form: no oracle, throttling, validation, masked confirmation (SPEC §1.4, §2)."""

import datetime as dt
import re

import pytest

from reassort.procedures import votegate
from tests.conftest import CODE, NIR10, get_voter, login, page_text
from tests.flows import PERSONAL_EMAIL, ask_link, last_link


def body_without_tokens(response) -> str:
    return re.sub(r'value="[^"]*"', 'value=""', response.get_data(as_text=True))


def test_sec01_wrong_answer_wrong_identifier_both_identical_responses(app, make_voter, outbox):
    # One fresh voter per case: the page says how many attempts are left, the same count for each.
    responses = []
    for wrong in ({"answer": "mauvaise réponse"}, {"identifier": "99Z9999999ZZZ"},
                  {"answer": "mauvaise réponse", "identifier": "1991275107"}):
        client = app.test_client()
        login(client, get_voter(app, make_voter()).email)
        responses.append(ask_link(client, **wrong))
    assert len({r.status_code for r in responses}) == 1
    assert len({body_without_tokens(r) for r in responses}) == 1
    assert "ne permettent pas de vous identifier" in page_text(responses[0])
    assert outbox() == []


def test_correct_challenge_sends_exactly_one_email_with_the_link(logged_in, outbox):
    client, _, _ = logged_in
    response = ask_link(client)
    assert response.status_code == 200
    messages = outbox()
    assert len(messages) == 1
    assert messages[0]["channel"] == "email" and messages[0]["to"] == PERSONAL_EMAIL
    assert "/reassort/lien/" in last_link(messages)


def test_correct_challenge_by_sms_sends_exactly_one_sms(logged_in, outbox):
    client, _, _ = logged_in
    ask_link(client, channel="sms")
    messages = outbox()
    assert len(messages) == 1 and messages[0]["channel"] == "sms" and messages[0]["to"] == "+33612345678"


def test_sms_is_gsm7_in_two_segments_at_most_carrying_only_the_link(logged_in, outbox):
    gsm7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
               "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
    client, _, _ = logged_in
    ask_link(client, channel="sms")
    body = outbox()[0]["body"]
    # It names the election and says to get ready to write the code down (SPEC §1b, issue 13):
    # two concatenated segments (153 characters each), in GSM-7 so that they stay two.
    assert set(body) <= gsm7 and len(body) <= 2 * 153
    assert "Élections professionnelles (démonstration)" in body and "120 secondes" in body
    assert CODE not in body


def test_nir_prefix_accepted_instead_of_numen(logged_in, outbox):
    client, _, _ = logged_in
    ask_link(client, identifier=" ".join([NIR10[0], NIR10[1:3], NIR10[3:5], NIR10[5:7], NIR10[7:]]))
    assert len(outbox()) == 1


def test_corsican_nir_prefix_accepted(app, client, make_voter, outbox):
    voter_id = make_voter(nir10="184062A004")
    login(client, get_voter(app, voter_id).email)
    ask_link(client, identifier="1 84 06 2A 004")
    assert len(outbox()) == 1


def test_sec06_answer_normalised_case_accents_spaces(logged_in, outbox):
    client, _, _ = logged_in
    ask_link(client, answer="  eleonore ")
    ask_link(client, answer="ÉLÉONORE")
    assert len(outbox()) == 2


def test_sec04_answer_alone_never_yields_a_code(app, logged_in, outbox):
    client, voter_id, _ = logged_in
    response = ask_link(client)
    with app.app_context():
        assert votegate.code_matches(get_voter(app, voter_id), CODE)
    assert "code-value" not in response.get_data(as_text=True)


def test_sec23_confirmation_masks_the_destination(logged_in):
    client, _, _ = logged_in
    sms = page_text(ask_link(client, channel="sms"))
    assert "06 •• •• •• 78" in sms and "06 12 34 56 78" not in sms
    email = page_text(ask_link(client))
    assert "j•••@exemple.org" in email and PERSONAL_EMAIL not in email


@pytest.mark.parametrize("typed", ["agent1@education.gouv.fr", "AGENT1@Education.Gouv.FR", "a.gent1@education.gouv.fr",
                                   "agent1+perso@education.gouv.fr"])
def test_sec21_personal_email_must_differ_from_record(logged_in, outbox, typed):
    client, _, record = logged_in
    assert record == "agent1@education.gouv.fr"
    response = ask_link(client, email=typed)
    assert "différente de votre adresse professionnelle" in page_text(response)
    assert outbox() == []


@pytest.mark.parametrize("phone, ok", [
    ("06 12 34 56 78", True), ("+33 7 81 23 45 67", True), ("0690 12 34 56", True),  # Guadeloupe
    ("+262 692 12 34 56", True),  # La Réunion
    ("0696 12 34 56", True),  # Martinique
    ("01 23 45 67 89", False),  # fixed line
    ("+44 7700 900123", False),  # not French
    ("06 12 34", False), ("téléphone", False),
])
def test_mobile_number_validation(logged_in, outbox, phone, ok):
    client, _, _ = logged_in
    response = ask_link(client, channel="sms", phone=phone)
    assert (len(outbox()) == 1) is ok
    if not ok:
        assert "Numéro de mobile français invalide" in page_text(response)


@pytest.mark.parametrize("email", ["pas-une-adresse", "a@b", "jeanne@@exemple.org", ""])
def test_personal_email_syntax_checked(logged_in, outbox, email):
    client, _, _ = logged_in
    response = ask_link(client, email=email)
    assert response.status_code == 200 and outbox() == []


def test_typed_destination_not_echoed_on_error(logged_in):
    client, _, _ = logged_in
    response = ask_link(client, answer="mauvaise réponse", channel="sms")
    assert "12 34 56" not in page_text(response)


def test_sec08_lock_after_max_failures_is_temporary(app, logged_in, outbox, clock):
    client, voter_id, _ = logged_in
    for _ in range(app.config["CHALLENGE_MAX_FAILURES"]):
        ask_link(client, answer="mauvaise réponse")
    locked = ask_link(client)
    assert "question défi est suspendue" in page_text(locked)
    assert outbox() == []
    # FranceConnect stays open: the choice page still answers.
    assert client.get("/reassort").status_code == 200
    clock.advance(app.config["CHALLENGE_LOCK_SECONDS"] + 1)
    login(client, get_voter(app, voter_id).email)  # the idle session has ended meanwhile
    ask_link(client)
    assert len(outbox()) == 1


def test_sec08_each_wrong_attempt_counts(app, logged_in):
    client, voter_id, _ = logged_in
    ask_link(client, answer="mauvaise réponse")
    ask_link(client, identifier="99Z9999999ZZZ")
    assert get_voter(app, voter_id).challenge_failures == 2


def test_sec10_links_per_hour_capped(app, logged_in, outbox, clock):
    client, voter_id, email = logged_in
    for _ in range(app.config["LINKS_PER_HOUR"]):
        ask_link(client)
    refused = ask_link(client)
    assert "trop de liens" in page_text(refused)
    assert len(outbox()) == app.config["LINKS_PER_HOUR"]
    clock.advance(3600)
    login(client, email)
    ask_link(client)
    assert len(outbox()) == app.config["LINKS_PER_HOUR"] + 1


def test_sec10_sends_capped_globally(settings, request):
    settings["EMAIL_SENDS_PER_HOUR"] = 1
    client, _, _ = request.getfixturevalue("logged_in")
    outbox = request.getfixturevalue("outbox")
    ask_link(client)
    refused = ask_link(client)
    assert "très sollicité" in page_text(refused)
    assert len(outbox()) == 1


def test_sec30_reassort_refused_after_poll_closed(settings, clock, request):
    settings["ELECTION_CLOSES_AT"] = dt.datetime.fromtimestamp(clock() - 1, dt.timezone.utc).isoformat()
    client, _, _ = request.getfixturevalue("logged_in")
    for url in ("/reassort", "/reassort/question-defi"):
        response = client.get(url)
        assert response.status_code == 403 and "vote est clos" in page_text(response)
    assert ask_link(client).status_code == 403


def test_challenge_shows_the_question_and_the_not_stored_notes(logged_in):
    client, _, _ = logged_in
    html = page_text(client.get("/reassort/question-defi"))
    assert "Votre question Défi" in html and "meilleur ami" in html
    assert html.count("n'est pas enregistré") == 2


def test_challenge_requires_login(client):
    assert client.get("/reassort/question-defi").status_code == 302


def test_choice_page_offers_both_paths(settings, request):
    settings["FRANCECONNECT_STANDIN"] = True
    client, _, _ = request.getfixturevalue("logged_in")
    html = page_text(client.get("/reassort"))
    assert "question défi" in html and "FranceConnect" in html and "Qu'est-ce que FranceConnect ?" in html


def test_choice_page_hides_franceconnect_when_not_configured(logged_in):
    client, _, _ = logged_in
    assert "S'identifier avec" not in page_text(client.get("/reassort"))
