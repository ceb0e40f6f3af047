"""Delivery over real servers on loopback: SMTP (aiosmtpd) and an HTTP SMS gateway.

A refused or failing channel gives the voter a clear message within the timeout,
no link counts as sent, the voter's throttle is not charged, nothing changes.
"""

import time

import pytest

from tests.conftest import get_voter, page_text
from tests.flows import LINK_RE, PERSONAL_EMAIL, ask_link, open_link


@pytest.fixture
def settings(settings, smtp_server, gateway):
    settings.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_TIMEOUT=2,
                    SMS_BACKEND="http", SMS_HTTP_URL=gateway.url, SMS_HTTP_AUTH="Bearer jeton-de-test",
                    SMS_SENDER="ELECTIONS", SMS_HTTP_TIMEOUT=0.5,
                    DELIVERY_BREAKER_FAILURES=100)  # tests/test_rush.py has the breaker
    return settings


def voter_state(app, voter_id):
    v = get_voter(app, voter_id)
    return (v.link_generation, v.links_in_window, v.challenge_failures, v.code_digest)


def test_email_arrives_over_smtp_with_the_link(logged_in, smtp_server):
    client, _, _ = logged_in
    ask_link(client)
    assert len(smtp_server.handler.messages) == 1
    mail = smtp_server.handler.messages[0]
    assert mail["To"] == PERSONAL_EMAIL and "nouveau code" in mail["Subject"]
    assert LINK_RE.search(mail.get_content())


def test_sms_json_arrives_at_the_gateway(logged_in, gateway):
    client, _, _ = logged_in
    ask_link(client, channel="sms")
    assert len(gateway.requests) == 1
    request = gateway.requests[0]
    assert request["headers"]["Authorization"] == "Bearer jeton-de-test"
    assert request["json"]["to"] == "+33612345678" and request["json"]["sender"] == "ELECTIONS"
    assert LINK_RE.search(request["json"]["text"])


def test_sms_gateway_500_retried_once_then_clear_error_nothing_changed(app, logged_in, gateway, smtp_server):
    client, voter_id, _ = logged_in
    gateway.status = 500
    before = voter_state(app, voter_id)
    response = ask_link(client, channel="sms")
    assert len(gateway.requests) == 2
    assert response.status_code == 503
    assert "L'envoi du message a échoué" in page_text(response)
    assert voter_state(app, voter_id) == before


def test_sms_gateway_hanging_clear_error_within_the_total_deadline_and_the_link_works(app, logged_in, gateway):
    client, voter_id, _ = logged_in
    gateway.hang.set()
    code_before = get_voter(app, voter_id).code_digest
    started = time.monotonic()
    response = ask_link(client, channel="sms")
    elapsed = time.monotonic() - started
    assert response.status_code == 503 and "pas reçu à temps la confirmation" in page_text(response)
    assert elapsed < 5  # a bound, not a benchmark: the 0.5 s deadline must cut the wait
    assert get_voter(app, voter_id).code_digest == code_before
    # The gateway had the whole request: the SMS may still go out, and its link must then work.
    link = LINK_RE.search(gateway.requests[-1]["json"]["text"]).group(0)
    assert open_link(client, link).status_code == 303


def test_smtp_refusing_clear_error_nothing_changed(app, logged_in, smtp_server):
    client, voter_id, _ = logged_in
    smtp_server.handler.refuse = True
    before = voter_state(app, voter_id)
    response = ask_link(client)
    assert response.status_code == 503 and "L'envoi du message a échoué" in page_text(response)
    assert voter_state(app, voter_id) == before


def test_smtp_down_clear_error(settings, request):
    settings["SMTP_PORT"] = 1  # nothing listens there
    client, voter_id, _ = request.getfixturevalue("logged_in")
    before = voter_state(app := request.getfixturevalue("app"), voter_id)
    response = ask_link(client)
    assert response.status_code == 503
    assert voter_state(app, voter_id) == before


def test_failed_send_is_not_charged_to_the_voter(app, logged_in, gateway):
    client, voter_id, _ = logged_in
    gateway.status = 503
    for _ in range(app.config["LINKS_PER_HOUR"] + 1):
        ask_link(client, channel="sms")
    gateway.status = 200
    gateway.requests.clear()
    ask_link(client, channel="sms")
    assert len(gateway.requests) == 1


def test_failed_send_is_audited_without_the_destination(app, logged_in, gateway):
    from reassort.procedures import audit
    from reassort.web.extensions import db
    client, _, _ = logged_in
    gateway.status = 500
    ask_link(client, channel="sms")
    with app.app_context():
        with db.new_session() as s:
            rows = list(audit.export_rows(s))
    assert any(r[1] == "link_send_failed" and r[4] == "sms" for r in rows)
    assert not any("612345678" in cell for r in rows for cell in r)
