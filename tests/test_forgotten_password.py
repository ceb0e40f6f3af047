"""« Mot de passe oublié ? » and « Je n'ai pas reçu mon lien d'activation » (SPEC §1b, SEC-49).

One neutral answer whatever the address (same page, same status, the same work
before the answer, the mail after it); a forgotten-password link that is single use,
latest only, under its own salt and ``PASSWORD_RESET_MAX_AGE``, sent to the address of
record only; opening it changes nothing; the reset ends every session and leaves the
vote code alone.
"""

from __future__ import annotations

import bcrypt
import pytest
from sqlalchemy import event, func, select

from reassort.procedures import account_links, links, quotas, votegate
from reassort.rules import tokens
from reassort.storage.models import AuditEvent, Voter
from reassort.web import after_response
from reassort.web.extensions import db
from tests.account_flows import (
    NEW_PASSWORD,
    PAGES,
    ask_account_link,
    last_activation_link,
    last_reset_link,
    links_in,
    open_reset_link,
    path_of,
    set_new_password,
    token_of,
)
from tests.conftest import CODE, PASSWORD, csrf_of, get_voter, login, page_text, post_form, set_fields

pytestmark = pytest.mark.each_database

UNKNOWN = "personne.inconnue@education.gouv.fr"


def audit_rows(app, event_name: str) -> list[tuple]:
    with app.app_context():
        with db.new_session() as s:
            return [(e.voter_id, e.detail) for e in
                    s.scalars(select(AuditEvent).where(AuditEvent.event == event_name).order_by(AuditEvent.id))]


def addresses(app, make_voter) -> dict[str, str]:
    """The three kinds of address: an activated voter's, a voter's not yet activated, nobody's."""
    return {"activated": get_voter(app, make_voter()).email,
            "not activated": get_voter(app, make_voter(activated=False)).email,
            "unknown": UNKNOWN}


# -- one neutral answer ---------------------------------------------------------------------

@pytest.mark.parametrize("form", ["password", "activation"])
def test_sec49_same_page_and_status_for_known_and_unknown_addresses(app, make_voter, outbox, form):
    seen = {}
    for kind, email in addresses(app, make_voter).items():
        client = app.test_client()
        response = ask_account_link(client, email, form)
        page = client.get(response.headers["Location"])
        seen[kind] = (response.status_code, response.headers["Location"], sorted(set(response.headers.keys())),
                      page.status_code, page.get_data(as_text=True))
    assert seen["activated"] == seen["not activated"] == seen["unknown"]
    status, location, _, page_status, body = seen["unknown"]
    assert (status, page_status) == (303, 200)
    assert location.endswith("/demande-enregistree")
    assert "Si l'adresse saisie est celle d'un compte électeur" in body.replace("&#39;", "'")
    # Only the two real accounts got a mail.
    assert len(outbox()) == 2


@pytest.fixture
def work(app, monkeypatch):
    """What a request does before its answer: bcrypt calls, limiter reservations, SQL statements, work deferred."""
    seen: dict[str, list] = {"bcrypt": [], "reserve": [], "sql": [], "deferred": []}
    real_check, real_hash, real_reserve, real_defer = bcrypt.checkpw, bcrypt.hashpw, quotas.reserve, \
        after_response.defer
    monkeypatch.setattr(after_response, "defer", lambda work, *a: seen["deferred"].append(work.__name__) or
                        real_defer(work, *a))
    monkeypatch.setattr(bcrypt, "checkpw", lambda *a: seen["bcrypt"].append("check") or real_check(*a))
    monkeypatch.setattr(bcrypt, "hashpw", lambda *a: seen["bcrypt"].append("hash") or real_hash(*a))
    monkeypatch.setattr(quotas, "reserve", lambda limit, *keys: seen["reserve"].append(keys[0]) or
                        real_reserve(limit, *keys))

    def statement(_conn, _cursor, sql, *_args):
        seen["sql"].append(" ".join(sql.split()[:4]))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)

    def taken():
        found = {k: list(v) for k, v in seen.items()}
        for v in seen.values():
            v.clear()
        return found

    yield taken
    event.remove(engine, "before_cursor_execute", statement)


@pytest.mark.parametrize("form", ["password", "activation"])
def test_sec49_the_same_work_before_the_answer_and_the_mail_after_it(app, make_voter, outbox, work, form):
    before_answer = {}
    for kind, email in addresses(app, make_voter).items():
        client = app.test_client()
        page = client.get(PAGES[form])
        sent_before = len(outbox())
        work()
        response = client.post(PAGES[form], data={"email": email, "csrf_token": csrf_of(page)}, buffered=False)
        before_answer[kind] = work()
        assert response.status_code == 303
        assert len(outbox()) == sent_before  # the answer is ready: nothing has left yet
        response.close()  # the server has sent the answer: now the mail may leave
        assert len(outbox()) == sent_before + (kind != "unknown")
    assert before_answer["activated"] == before_answer["not activated"] == before_answer["unknown"]
    assert before_answer["unknown"]["bcrypt"] == [] and before_answer["unknown"]["reserve"] == ["account-links"]
    assert before_answer["unknown"]["deferred"] == ["send_link"]


def test_sec49_the_link_goes_to_the_address_of_record_only(app, make_voter, outbox):
    email = get_voter(app, make_voter()).email
    ask_account_link(app.test_client(), "  " + email.upper() + " ")
    (sent,) = outbox()
    assert sent["to"] == email and sent["channel"] == "email"


def test_sec16_the_reset_link_is_built_from_public_url_never_the_host_header(app, make_voter, outbox):
    email = get_voter(app, make_voter()).email
    client = app.test_client()
    page = client.get("/mot-de-passe-oublie", headers={"Host": "evil.example.com"})
    client.post("/mot-de-passe-oublie", data={"email": email, "csrf_token": csrf_of(page)},
                headers={"Host": "evil.example.com"}, buffered=True)
    assert last_reset_link(outbox()).startswith("https://vote.example.fr/mot-de-passe/lien/")
    assert "evil" not in outbox()[0]["body"]


def test_sec49_the_mail_names_the_election_the_links_life_and_says_to_ignore_it(app, make_voter, outbox):
    ask_account_link(app.test_client(), get_voter(app, make_voter()).email)
    ask_account_link(app.test_client(), get_voter(app, make_voter(activated=False)).email, "activation")
    reset, activation = outbox()
    for message, life in ((reset, "1 heure"), (activation, "7 jours")):
        assert app.config["ELECTION_TITLE"] in message["body"]
        assert f"expire dans {life}" in message["body"]
        assert "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message" in message["body"]
    assert CODE not in reset["body"] + activation["body"]


def test_sec49_a_voter_who_never_activated_gets_the_activation_path_by_the_same_page(app, make_voter, outbox):
    voter_id = make_voter(activated=False)
    response = ask_account_link(app.test_client(), get_voter(app, voter_id).email, "password")
    assert response.headers["Location"] == "/mot-de-passe-oublie/demande-enregistree"
    assert links_in(outbox()) == []  # no forgotten-password link for an account without a password
    activation = last_activation_link(outbox())
    assert app.test_client().get(path_of(activation)).status_code == 200
    assert audit_rows(app, "activation_sent") == [(voter_id, "demande")]


def test_an_activated_voter_asking_for_activation_gets_a_forgotten_password_link(app, make_voter, outbox):
    voter_id = make_voter()
    ask_account_link(app.test_client(), get_voter(app, voter_id).email, "activation")
    assert set_new_password(app.test_client(), link=last_reset_link(outbox())).status_code == 303
    assert audit_rows(app, "password_reset_ok") == [(voter_id, None)]


def test_sec49_a_new_activation_link_kills_the_older_one(app, make_voter, outbox):
    email = get_voter(app, make_voter(activated=False)).email
    ask_account_link(app.test_client(), email, "activation")
    first = last_activation_link(outbox())
    ask_account_link(app.test_client(), email, "activation")
    second = last_activation_link(outbox())
    client = app.test_client()
    assert client.get(path_of(first)).status_code == 400
    assert client.get(path_of(second)).status_code == 200


# -- limits ---------------------------------------------------------------------------------

def test_sec49_per_address_limit_is_the_same_for_known_and_unknown_addresses(settings, request):
    settings["ACCOUNT_LINKS_PER_ADDRESS"] = "2 per hour"
    app = request.getfixturevalue("app")
    known = get_voter(app, request.getfixturevalue("make_voter")()).email
    for email in (known, UNKNOWN):
        statuses = [ask_account_link(app.test_client(), email).status_code for _ in range(3)]
        assert statuses == [303, 303, 429], email
    assert len(request.getfixturevalue("outbox")()) == 2


def test_sec49_per_ip_limit(settings, request):
    settings["RATELIMIT_PER_IP"] = "3 per minute"
    app = request.getfixturevalue("app")
    client = app.test_client()
    statuses = [ask_account_link(client, f"agent{i}@education.gouv.fr").status_code for i in range(4)]
    assert statuses == [303, 303, 303, 429]


def test_sec41_account_links_count_in_links_per_hour(settings, request):
    settings.update(LINKS_PER_HOUR=2, ACCOUNT_LINKS_PER_ADDRESS="100 per hour")
    app = request.getfixturevalue("app")
    outbox = request.getfixturevalue("outbox")
    voter_id = request.getfixturevalue("make_voter")()
    for _ in range(3):
        assert ask_account_link(app.test_client(), get_voter(app, voter_id).email).status_code == 303
    assert len(outbox()) == 2 and get_voter(app, voter_id).links_in_window == 2
    assert audit_rows(app, "throttled") == [(voter_id, "account_links_per_hour")]


def test_sec41_account_links_count_in_the_global_email_cap(settings, request):
    settings["EMAIL_SENDS_PER_HOUR"] = 1
    app = request.getfixturevalue("app")
    make_voter = request.getfixturevalue("make_voter")
    first, second = make_voter(), make_voter()
    for voter_id in (first, second):
        ask_account_link(app.test_client(), get_voter(app, voter_id).email)
    assert len(request.getfixturevalue("outbox")()) == 1
    # The refused voter is not charged for a link that never left.
    assert get_voter(app, second).links_in_window == 0
    assert audit_rows(app, "throttled") == [(second, "account_global_cap_email")]


def test_a_failed_delivery_changes_nothing_and_gives_the_places_back(app, make_voter, outbox, monkeypatch):
    from reassort.adapters import messaging

    voter_id = make_voter()
    email = get_voter(app, voter_id).email
    ask_account_link(app.test_client(), email)
    working = last_reset_link(outbox())
    before = get_voter(app, voter_id)

    def refuse(_message):
        raise messaging.DeliveryError("serveur SMTP injoignable")

    monkeypatch.setattr(messaging, "send_email", refuse)
    assert ask_account_link(app.test_client(), email).status_code == 303  # the same answer, always
    after = get_voter(app, voter_id)
    assert (after.password_generation, after.links_in_window) == (before.password_generation,
                                                                  before.links_in_window)
    assert audit_rows(app, "account_link_send_failed") == [(voter_id, "password_reset")]
    monkeypatch.undo()
    assert set_new_password(app.test_client(), link=working).status_code == 303  # the older link still works


# -- the forgotten-password link ---------------------------------------------------------------

@pytest.fixture
def voter_and_link(app, make_voter, outbox):
    voter_id = make_voter()
    ask_account_link(app.test_client(), get_voter(app, voter_id).email)
    return voter_id, last_reset_link(outbox())


def test_sec17_opening_the_reset_link_changes_nothing_and_moves_the_token_out_of_the_url(app, voter_and_link):
    voter_id, link = voter_and_link
    before = get_voter(app, voter_id)
    client = app.test_client()
    opened = open_reset_link(client, link)
    assert opened.status_code == 303 and opened.headers["Location"] == "/mot-de-passe/nouveau"
    assert token_of(link) not in opened.headers["Location"]
    for _ in range(3):
        assert "Choisir un nouveau mot de passe" in page_text(client.get("/mot-de-passe/nouveau"))
    after = get_voter(app, voter_id)
    assert (after.password_hash, after.password_generation, after.session_epoch) == (
        before.password_hash, before.password_generation, before.session_epoch)


def test_a_voter_struck_off_the_register_gets_no_account_link_and_cannot_use_one(app, voter_and_link, outbox,
                                                                                   clock):
    # Struck off after the link left (``voters deactivate``): it is dead, and no new one is sent.
    voter_id, link = voter_and_link
    set_fields(app, voter_id, deactivated_at=int(clock()))
    refused = open_reset_link(app.test_client(), link)
    assert refused.status_code == 400 and "Ce lien n'est pas valide" in page_text(refused)
    assert audit_rows(app, "password_reset_link_invalid") == [(voter_id, "deactivated")]
    sent = len(outbox())
    for form in ("password", "activation"):
        answer = ask_account_link(app.test_client(), get_voter(app, voter_id).email, form)
        assert answer.status_code == 303  # to the same neutral page as for anyone
    assert len(outbox()) == sent


def test_sec15_reset_link_is_single_use(app, voter_and_link):
    _, link = voter_and_link
    assert set_new_password(app.test_client(), link=link).status_code == 303
    again = open_reset_link(app.test_client(), link)
    assert again.status_code == 400 and "Ce lien n'est pas valide" in page_text(again)
    # Nor can the browser that used it post a second password.
    client = app.test_client()
    open_reset_link(client, link)
    assert client.get("/mot-de-passe/nouveau").status_code == 400


def test_sec15_reset_link_is_latest_only(app, voter_and_link, outbox):
    voter_id, first = voter_and_link
    ask_account_link(app.test_client(), get_voter(app, voter_id).email)
    second = last_reset_link(outbox())
    assert open_reset_link(app.test_client(), first).status_code == 400
    assert set_new_password(app.test_client(), link=second).status_code == 303
    assert audit_rows(app, "password_reset_link_invalid") == [(voter_id, "used_or_superseded")]


def test_sec15_a_link_opened_then_superseded_cannot_set_the_password(app, voter_and_link, outbox):
    voter_id, first = voter_and_link
    client = app.test_client()
    assert open_reset_link(client, first).status_code == 303
    ask_account_link(app.test_client(), get_voter(app, voter_id).email)
    assert set_new_password(client).status_code == 400
    assert login(app.test_client(), get_voter(app, voter_id).email).status_code == 302  # old password kept


def test_sec14_reset_link_accepted_at_max_age_refused_one_second_later(app, voter_and_link, clock):
    voter_id, link = voter_and_link
    clock.advance(app.config["PASSWORD_RESET_MAX_AGE"])
    client = app.test_client()
    assert open_reset_link(client, link).status_code == 303
    assert client.get("/mot-de-passe/nouveau").status_code == 200
    clock.advance(1)
    assert open_reset_link(app.test_client(), link).status_code == 400
    # The browser that opened it in time cannot use it after its life either.
    assert set_new_password(client).status_code == 400
    assert audit_rows(app, "password_reset_link_invalid")[-1] == (voter_id, "expired")


def test_sec13_tampered_or_forged_reset_links_get_the_same_page(app, voter_and_link):
    voter_id, link = voter_and_link
    token = token_of(link)
    voter = get_voter(app, voter_id)
    with app.test_request_context():
        # A genuine signature of another purpose (its own salt): refused.
        activation = links.make(tokens.ACTIVATION, voter_id, voter.password_generation)
        reissue = links.make(tokens.REISSUE, voter_id, voter.password_generation)
    # The signature's first character flipped (its last one carries padding bits that decode the same).
    head, signature = token.rsplit(".", 1)
    flipped = f"{head}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    bad = [flipped, "x" + token, activation, reissue, "pas-un-jeton"]
    pages = {page_text(app.test_client().get("/mot-de-passe/lien/" + t)) for t in bad}
    statuses = {app.test_client().get("/mot-de-passe/lien/" + t).status_code for t in bad}
    assert statuses == {400} and len(pages) == 1


def test_a_voter_imported_without_a_generation_gets_no_link_forged_for_none(app, make_voter):
    voter_id = make_voter(password_generation=None)
    with app.test_request_context():
        forged = [links.make(tokens.PASSWORD_RESET, voter_id, g) for g in (0, 1)]
    for token in forged:
        assert app.test_client().get("/mot-de-passe/lien/" + token).status_code == 400


# -- the reset -----------------------------------------------------------------------------

def test_sec49_after_a_reset_old_password_and_other_sessions_are_dead_and_the_code_still_works(
        app, make_voter, outbox):
    voter_id = make_voter()
    email = get_voter(app, voter_id).email
    other = app.test_client()
    assert login(other, email).status_code == 302
    before = get_voter(app, voter_id)
    ask_account_link(app.test_client(), email)
    assert set_new_password(app.test_client(), link=last_reset_link(outbox())).status_code == 303
    # The other session has ended: back to the login page.
    assert other.get("/").status_code == 302 and other.get("/").headers["Location"] == "/connexion"
    assert login(app.test_client(), email, PASSWORD).status_code == 200
    client = app.test_client()
    assert login(client, email, NEW_PASSWORD).status_code == 302
    after = get_voter(app, voter_id)
    assert (after.code_digest, after.answer_hash, after.link_generation) == (
        before.code_digest, before.answer_hash, before.link_generation)
    with app.app_context():
        assert votegate.code_matches(after, CODE)
    assert post_form(client, "/vote", {"code": CODE}).status_code == 302


def test_sec49_a_reset_sends_a_notice_to_the_address_of_record(app, voter_and_link, outbox):
    voter_id, link = voter_and_link
    set_new_password(app.test_client(), link=link)
    notice = outbox()[-1]
    assert notice["to"] == get_voter(app, voter_id).email
    assert notice["subject"] == "Votre mot de passe a été modifié"
    assert "Toutes les sessions ouvertes sur votre compte ont été fermées" in notice["body"]
    assert NEW_PASSWORD not in notice["body"]


def test_the_reset_ends_with_the_login_page_and_says_so(app, voter_and_link):
    _, link = voter_and_link
    client = app.test_client()
    done = set_new_password(client, link=link)
    assert done.headers["Location"] == "/connexion"
    assert "Votre nouveau mot de passe est enregistré" in page_text(client.get("/connexion"))


@pytest.mark.parametrize("password, confirm, message", [
    ("trop court", None, "au moins 12 caractères"),
    ("motdepasse123", None, "trop courant"),
    ("aaaaaaaaaaaaaaaa", None, "trop courant ou trop simple"),
    (NEW_PASSWORD, "une autre phrase de passe", "ne sont pas identiques"),
], ids=["short", "common", "simple", "mismatch"])
def test_the_new_password_follows_the_activation_rules(app, voter_and_link, password, confirm, message):
    voter_id, link = voter_and_link
    before = get_voter(app, voter_id)
    response = set_new_password(app.test_client(), password, confirm, link=link)
    assert response.status_code == 200 and message in page_text(response)
    assert get_voter(app, voter_id).password_hash == before.password_hash


def test_the_reset_audits_each_step_without_any_address(app, voter_and_link):
    voter_id, link = voter_and_link
    ask_account_link(app.test_client(), UNKNOWN)
    set_new_password(app.test_client(), link=link)
    assert audit_rows(app, "password_reset_requested") == [(voter_id, None), (None, None)]
    assert audit_rows(app, "password_reset_sent") == [(voter_id, "demande")]
    assert audit_rows(app, "password_reset_link_opened") == [(voter_id, None)]
    assert audit_rows(app, "password_reset_ok") == [(voter_id, None)]
    with app.app_context():
        with db.new_session() as s:
            details = " ".join(str(d) for d in s.scalars(select(AuditEvent.detail)))
            assert s.scalar(select(func.count()).select_from(Voter)) == 1
    assert "@" not in details


def test_two_posts_of_one_link_set_exactly_one_password(app, voter_and_link):
    voter_id, link = voter_and_link
    client = app.test_client()
    open_reset_link(client, link)
    page = client.get("/mot-de-passe/nouveau")
    with app.app_context():
        s = db.new_session()
        try:
            voter = s.get(Voter, voter_id)
            generation = voter.password_generation
            assert account_links.reset_password(s, voter_id, generation, "première phrase de passe")
            assert not account_links.reset_password(s, voter_id, generation, "seconde phrase de passe")
        finally:
            s.close()
    assert page.status_code == 200
    assert login(app.test_client(), get_voter(app, voter_id).email, "première phrase de passe").status_code == 302
