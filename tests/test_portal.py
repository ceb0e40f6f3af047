"""Portal login, logout, the vote-code gate and the election window (SPEC §1 steps 1–2)."""

import datetime as dt

import pytest

from reassort.rules import codes
from tests.conftest import CODE, PASSWORD, csrf_of, get_voter, login, page_text, post_form
from tests.flows import ask_link, last_link, open_link


def iso(epoch):
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat()


def enter_code(client, code):
    return post_form(client, "/vote", {"code": code})


def test_login_ok_opens_home(logged_in):
    client, _, _ = logged_in
    html = page_text(client.get("/"))
    assert "Je vote" in html and "Consulter les scrutins" in html


def test_login_wrong_password_and_unknown_address_same_message(client, make_voter):
    voter_id = make_voter()
    email = get_voter(client.application, voter_id).email
    wrong = login(client, email, "pas le bon mot de passe")
    unknown = login(client, "personne@education.gouv.fr", PASSWORD)
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        assert "Adresse électronique ou mot de passe incorrect" in page_text(response)


def test_login_requires_csrf(client, make_voter):
    voter_id = make_voter()
    email = get_voter(client.application, voter_id).email
    response = client.post("/connexion", data={"email": email, "password": PASSWORD})
    assert response.status_code == 400
    assert "formulaire a expiré" in page_text(response)


def test_login_throttling_per_account(client, make_voter):
    voter_id = make_voter()
    email = get_voter(client.application, voter_id).email
    statuses = [login(client, email, "mauvais mot de passe").status_code for _ in range(10)]
    assert statuses == [200] * 10
    throttled = login(client, email, PASSWORD)
    assert throttled.status_code == 429
    assert "Trop de tentatives" in page_text(throttled)


def test_login_throttling_is_audited(app, client, make_voter, runner):
    from reassort.procedures import audit
    from reassort.web.extensions import db
    voter_id = make_voter()
    email = get_voter(client.application, voter_id).email
    for _ in range(11):
        login(client, email, "mauvais mot de passe")
    with app.app_context():
        with db.new_session() as s:
            counts = audit.counts(s)
    assert counts["login_failed"] == 10 and counts["throttled"] == 1


def test_sec33_session_renewed_at_login(app, make_voter, outbox):
    # A shared computer: the first voter opened a réassort link and walked away without
    # logging out; someone else's key sits in the session too.  Whoever logs in next
    # starts from a clean session: nothing of the one before survives the login.
    first, second = (get_voter(app, make_voter()).email for _ in range(2))
    client = app.test_client()
    login(client, first)
    ask_link(client)
    assert open_link(client, last_link(outbox())).status_code == 303
    with client.session_transaction() as session:
        session["planted"] = "left by someone else"
        assert {"planted", "reissue", "vid"} <= set(session)
    assert login(client, second).status_code == 302
    with client.session_transaction() as session:
        assert "planted" not in session and "reissue" not in session
    assert client.get("/reassort/regenerer").status_code == 400  # the first voter's link is not reachable


def test_logout_ends_other_sessions(app, make_voter):
    voter_id = make_voter()
    email = get_voter(app, voter_id).email
    phone, laptop = app.test_client(), app.test_client()
    login(phone, email)
    login(laptop, email)
    page = laptop.get("/")
    laptop.post("/deconnexion", data={"csrf_token": csrf_of(page)})
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 302


def test_home_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/connexion")


def test_right_code_opens_voting_space(logged_in):
    client, _, _ = logged_in
    assert enter_code(client, CODE).status_code == 302
    html = page_text(client.get("/espace-de-vote"))
    assert "Espace de vote" in html and "Comité social d'administration" in html


@pytest.mark.parametrize("typed", [
    f"  {CODE}  ", " ".join(codes.groups(CODE)), "\u00a0".join(codes.groups(CODE)), "\u202f".join(codes.groups(CODE)),
    " ".join(CODE), CODE[:4] + "\t" + CODE[4:] + "\n",
], ids=["around", "groups", "no-break", "narrow-no-break", "every-char", "tab-newline"])
def test_code_typed_with_any_spaces_is_accepted(logged_in, typed):
    client, _, _ = logged_in
    assert enter_code(client, typed).status_code == 302


def test_code_entry_stays_case_sensitive(logged_in):
    client, _, _ = logged_in
    assert enter_code(client, CODE.lower()).status_code == 200
    assert enter_code(client, CODE.swapcase()).status_code == 200


def test_wrong_code_generic_error(logged_in):
    client, _, _ = logged_in
    response = enter_code(client, "Zz9#Zz9#Zz9#")
    html = page_text(response)
    assert response.status_code == 200
    assert "Le code de vote ou le CAPTCHA est incorrect" in html
    assert client.get("/espace-de-vote").status_code == 302


def test_voting_space_requires_the_code(logged_in):
    client, _, _ = logged_in
    response = client.get("/espace-de-vote")
    assert response.status_code == 302 and response.headers["Location"].endswith("/vote")


def test_vote_page_offers_reassort_link_and_buttons(logged_in):
    client, _, _ = logged_in
    html = page_text(client.get("/vote"))
    for text in ("Code de vote", "Valider", "Retour connexion",
                 "Cliquez ici pour obtenir un réassort de votre code de vote"):
        assert text in html


def test_vote_code_attempts_throttled_per_voter(logged_in):
    client, _, _ = logged_in
    statuses = [enter_code(client, "Zz9#Zz9#Zz9#").status_code for _ in range(10)]
    assert statuses == [200] * 10
    assert enter_code(client, CODE).status_code == 429


@pytest.mark.parametrize("opens, closes, said", [(+3600, +7200, "Le vote n'est pas encore ouvert : il ouvrira le"),
                                                (-7200, -3600, "Le vote est clos depuis le")])
def test_code_outside_election_window_refused(settings, clock, opens, closes, said, request):
    settings["ELECTION_OPENS_AT"] = iso(clock() + opens)
    settings["ELECTION_CLOSES_AT"] = iso(clock() + closes)
    client, _, _ = request.getfixturevalue("logged_in")
    response = enter_code(client, CODE)
    assert response.status_code == 200
    assert said in page_text(response)


def test_code_inside_election_window_accepted(settings, clock, request):
    settings["ELECTION_OPENS_AT"] = iso(clock() - 60)
    settings["ELECTION_CLOSES_AT"] = iso(clock() + 60)
    client, _, _ = request.getfixturevalue("logged_in")
    assert enter_code(client, CODE).status_code == 302


def test_voting_space_closes_with_the_window(settings, clock, request):
    settings["ELECTION_CLOSES_AT"] = iso(clock() + 60)
    client, _, _ = request.getfixturevalue("logged_in")
    assert enter_code(client, CODE).status_code == 302
    clock.advance(61)
    assert client.get("/espace-de-vote").status_code == 302


def test_security_headers_on_every_page(client):
    response = client.get("/connexion")
    h = response.headers
    csp = h["Content-Security-Policy"]
    for part in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert part in csp
    assert "unsafe-inline" not in csp
    assert h["Referrer-Policy"] == "no-referrer"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert int(h["Strict-Transport-Security"].split("max-age=")[1].split(";")[0]) >= 31536000


def test_session_cookie_flags(client, make_voter):
    voter_id = make_voter()
    response = login(client, get_voter(client.application, voter_id).email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie


def test_no_inline_script_in_pages(logged_in):
    client, _, _ = logged_in
    for url in ("/", "/vote", "/reassort", "/reassort/question-defi"):
        html = page_text(client.get(url))
        assert "<script>" not in html and "onclick" not in html


@pytest.mark.parametrize("status, url", [(404, "/nexiste-pas")])
def test_friendly_error_pages(client, status, url):
    response = client.get(url)
    assert response.status_code == status
    assert "Page introuvable" in page_text(response)
