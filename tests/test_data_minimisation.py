"""SEC-20 / SEC-37: the phone number and personal e-mail typed for réassort, codes and
tokens appear nowhere: not in any table, the logs, the audit export, nor the session cookie.
Nor does anything typed on the account pages (SPEC §1b): an address that is nobody's,
passwords, the new answer, the forgotten-password link's token."""

import io
import json
import logging

import pytest
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from reassort.procedures import audit
from reassort.storage.models import Base
from reassort.web.extensions import db
from tests.account_flows import (
    ask_account_link,
    change_challenge,
    change_password,
    last_reset_link,
    set_new_password,
    token_of,
)
from tests.conftest import NIR10, NUMEN, PASSWORD, get_voter, login
from tests.flows import ask_link, code_on_page, last_link, link_path, regenerate

pytestmark = pytest.mark.each_database

PHONE = "07 81 23 45 67"
PHONE_FORMS = ["0781234567", "+33781234567", "781234567", "07 81 23 45 67", "81 23 45 67"]
PERSONAL = "marie.curie.perso@exemple.org"


def all_text_in_database(app) -> str:
    chunks = []
    with app.app_context():
        s = db.new_session()
        for table in Base.metadata.sorted_tables:
            for row in s.execute(select(table)):
                chunks.extend(str(v) for v in row if isinstance(v, str))
        s.close()
    return "\n".join(chunks)


def decoded_session(app, client) -> str:
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    return repr(serializer.loads(client.get_cookie("reassort_session").value))


def log_output(caplog, capsys, route: str = "/reassort/question-defi") -> dict[str, str]:
    """Everything the flow logged: stdout, stderr (the JSON lines) and each field of each line and record.

    The app's log lines are JSON on stderr; the extras of a record (``extra={...}``) show
    there and in the record, never in ``caplog.text``'s message-only format.
    """
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    # What was read really holds the request log of the flow, fields included.
    assert any(line.get("route") == route and line.get("ip_hash") for line in lines)
    return {
        "stdout": captured.out,
        "stderr": captured.err,
        "JSON log fields": "\n".join(str(value) for line in lines for value in line.values()),
        "log records": caplog.text + "\n".join(repr(vars(record)) for record in caplog.records),
    }


def test_sec20_typed_phone_and_email_are_never_stored(app, logged_in, outbox, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    client, _, _ = logged_in
    ask_link(client, channel="sms", phone=PHONE)
    sms_link = last_link(outbox())
    ask_link(client, channel="email", email=PERSONAL)
    email_link = last_link(outbox())
    session_after_requests = decoded_session(app, client)
    new_code = code_on_page(regenerate(client, email_link))
    with app.app_context():
        export = io.StringIO()
        with db.new_session() as s:
            audit.export_csv(s, export)
    places = {
        "database": all_text_in_database(app),
        **log_output(caplog, capsys),
        "audit export": export.getvalue(),
        "session cookie": session_after_requests + decoded_session(app, client),
    }
    secrets = PHONE_FORMS + [PERSONAL, PERSONAL.split("@")[0], NUMEN, NIR10, new_code,
                             link_path(sms_link).rsplit("/", 1)[1], link_path(email_link).rsplit("/", 1)[1]]
    for place, text in places.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} found in {place}"
    assert "reissue" not in decoded_session(app, client)  # the used token has left the session


def test_sec20_nothing_typed_on_the_account_pages_is_stored_or_logged(app, make_voter, outbox, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    voter_id = make_voter()
    email = get_voter(app, voter_id).email
    nobody = "quelquun.dautre@education.gouv.fr"
    reset_password, account_password, answer = "phrase oubliee puis retrouvee", "phrase choisie dans mon compte", \
        "Spationaute lunaire"
    ask_account_link(app.test_client(), nobody)
    ask_account_link(app.test_client(), nobody.upper(), "activation")
    ask_account_link(app.test_client(), email)
    link = last_reset_link(outbox())
    reset = app.test_client()
    set_new_password(reset, reset_password, link=link)
    session_after_reset = decoded_session(app, reset)
    client = app.test_client()
    assert login(client, email, reset_password).status_code == 302
    change_password(client, reset_password, account_password)
    change_challenge(client, account_password, "q4", answer)
    with app.app_context():
        export = io.StringIO()
        with db.new_session() as s:
            audit.export_csv(s, export)
    places = {
        "database": all_text_in_database(app),
        **log_output(caplog, capsys, route="/mot-de-passe-oublie"),
        "audit export": export.getvalue(),
        "session cookies": session_after_reset + decoded_session(app, client),
    }
    typed = [nobody, nobody.upper(), nobody.split("@")[0], PASSWORD, reset_password, account_password, answer,
             answer.lower(), token_of(link)]
    for place, text in places.items():
        for secret in typed:
            assert secret not in text, f"{secret!r} found in {place}"
    assert "password_reset" not in session_after_reset  # the used token has left the session
