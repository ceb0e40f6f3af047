"""The single-use link and the regeneration (SEC-03, SEC-13 to SEC-19, SEC-22 to SEC-24, SEC-29 to SEC-33)."""

import datetime as dt
import glob
import hashlib
import pathlib
import re

import pytest
import sqlalchemy as sa

from app import create_app
from reassort.procedures import votegate
from reassort.web.extensions import db
from tests.conftest import CODE, csrf_of, get_voter, login, page_text, post_form
from tests.flows import ask_link, code_on_page, last_link, link_path, open_link, regenerate

pytestmark = pytest.mark.each_database


@pytest.fixture
def link(logged_in, outbox):
    client, _, _ = logged_in
    ask_link(client)
    return last_link(outbox())


def enter_code(client, code):
    return post_form(client, "/vote", {"code": code})


def code_works(app, voter_id, code):
    with app.app_context():
        return votegate.code_matches(get_voter(app, voter_id), code)


def test_sec17_opening_the_link_redirects_to_a_url_without_the_token(app, logged_in, link):
    client, voter_id, _ = logged_in
    before = get_voter(app, voter_id)
    response = open_link(client, link)
    assert response.status_code == 303
    assert response.headers["Location"] == "/reassort/regenerer"
    token = link_path(link).rsplit("/", 1)[1]
    assert token not in response.headers["Location"]
    after = get_voter(app, voter_id)
    assert (after.code_digest, after.link_generation) == (before.code_digest, before.link_generation)


def test_sec17_get_of_the_regeneration_page_changes_nothing(app, logged_in, link):
    client, voter_id, _ = logged_in
    open_link(client, link)
    for _ in range(3):
        page = client.get("/reassort/regenerer")
        assert "RÉGÉNÉRER MON CODE DE VOTE" in page_text(page)
    assert code_works(app, voter_id, CODE)


def test_regeneration_shows_a_new_code_old_dead_new_works(app, logged_in, link):
    client, voter_id, _ = logged_in
    response = regenerate(client, link)
    assert response.status_code == 200
    new_code = code_on_page(response)
    assert new_code != CODE and len(new_code) == 12
    assert enter_code(client, CODE).status_code == 200
    assert enter_code(client, new_code).status_code == 302
    assert "Espace de vote" in page_text(client.get("/espace-de-vote"))


def test_sec31_no_automatic_entry_into_the_voting_space(logged_in, link):
    client, _, _ = logged_in
    enter_code(client, CODE)
    regenerate(client, link)
    assert client.get("/espace-de-vote").status_code == 302


def test_sec15_link_is_single_use(app, logged_in, link):
    client, _, _ = logged_in
    regenerate(client, link)
    again = open_link(client, link)
    assert again.status_code == 400 and "Ce lien n'est pas valide" in page_text(again)


def test_sec14_link_accepted_at_max_age(app, logged_in, link, clock):
    client, _, _ = logged_in
    clock.advance(app.config["REISSUE_LINK_MAX_AGE"])
    assert open_link(client, link).status_code == 303


def test_sec14_link_refused_one_second_after_max_age(app, logged_in, link, clock):
    client, _, _ = logged_in
    clock.advance(app.config["REISSUE_LINK_MAX_AGE"] + 1)
    assert open_link(client, link).status_code == 400


def test_sec14_link_expiring_between_open_and_post_refused(app, logged_in, link, clock):
    client, voter_id, _ = logged_in
    open_link(client, link)
    page = client.get("/reassort/regenerer")
    clock.advance(app.config["REISSUE_LINK_MAX_AGE"] + 1)
    response = client.post("/reassort/regenerer", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 400 and code_works(app, voter_id, CODE)


def test_sec15_newer_link_voids_older(logged_in, outbox):
    client, _, _ = logged_in
    ask_link(client)
    older = last_link(outbox())
    ask_link(client)
    newer = last_link(outbox())
    assert open_link(client, older).status_code == 400
    assert open_link(client, newer).status_code == 303


def test_sec03_every_bad_link_gets_the_same_page(app, logged_in, outbox, clock):
    client, _, _ = logged_in
    ask_link(client)
    superseded = last_link(outbox())
    ask_link(client)
    used = last_link(outbox())
    regenerate(client, used)
    token = link_path(used).rsplit("/", 1)[1]
    tampered = "/reassort/lien/" + token[:-3] + ("xyz" if not token.endswith("xyz") else "abc")
    ask_link(client)
    expiring = last_link(outbox())
    clock.advance(app.config["REISSUE_LINK_MAX_AGE"] + 1)
    pages = [open_link(client, superseded), open_link(client, used), client.get(tampered),
             open_link(client, expiring), client.get("/reassort/lien/n-importe-quoi"),
             app.test_client().get("/reassort/regenerer")]
    assert {p.status_code for p in pages} == {400}
    bodies = {re.sub(r'value="[^"]*"', "", p.get_data(as_text=True)) for p in pages}
    assert len(bodies) <= 2  # logged-in vs logged-out header only
    assert all("Ce lien n'est pas valide" in page_text(p) for p in pages)


def test_sec13_tampering_any_byte_of_the_token_is_rejected(app, logged_in, link):
    client, _, _ = logged_in
    token = link_path(link).rsplit("/", 1)[1]
    for i in range(0, len(token), 7):
        flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
        assert client.get("/reassort/lien/" + flipped).status_code == 400


def test_link_works_without_a_portal_session(app, link):
    phone = app.test_client()
    assert regenerate(phone, link).status_code == 200


def test_sec16_link_built_from_public_url_not_host_header(logged_in, outbox):
    client, _, _ = logged_in
    forged = {"HTTP_HOST": "evil.example.com", "HTTP_X_FORWARDED_HOST": "evil.example.com"}
    client.set_cookie("reassort_session", client.get_cookie("reassort_session").value, domain="evil.example.com")
    page = client.get("/reassort/question-defi", environ_overrides=forged)
    assert page.status_code == 200
    client.post("/reassort/question-defi", environ_overrides=forged, data={
        "answer": "Éléonore", "identifier": "12E1234567ABC", "channel": "email",
        "personal_email": "jeanne.perso@exemple.org", "csrf_token": csrf_of(page)})
    body = outbox()[-1]["body"]
    assert "https://vote.example.fr/reassort/lien/" in body and "evil.example.com" not in body


def test_sec22_code_never_travels_by_message_sec24_notice_sent(app, logged_in, link, outbox):
    client, voter_id, email = logged_in
    new_code = code_on_page(regenerate(client, link))
    messages = outbox()
    assert all(new_code not in m["body"] and CODE not in m["body"] for m in messages)
    notice = messages[-1]
    assert notice["to"] == email and "modifié" in notice["subject"]


def test_sec32_reveal_page_headers(logged_in, link):
    client, _, _ = logged_in
    response = regenerate(client, link)
    h = response.headers
    assert "no-store" in h["Cache-Control"]
    assert h["Referrer-Policy"] == "no-referrer"
    assert "unsafe-inline" not in h["Content-Security-Policy"]
    assert "script-src 'self'" in h["Content-Security-Policy"]


def test_reveal_page_display_countdown_copy_extend_and_noscript(logged_in, link):
    client, _, _ = logged_in
    html = page_text(regenerate(client, link))
    assert "Copier ou noter ce code" in html and "Copier le code" in html and "Prolonger l'affichage" in html
    assert 'data-seconds="120"' in html and 'aria-live="polite"' in html
    # No delayed refresh (RGAA 13.1.2): without script the code stays until « J'ai noté mon code ».
    assert 'http-equiv="refresh"' not in html and "J'ai noté mon code" in html
    assert "majuscule" in html or "minuscule" in html  # spelled for screen readers
    assert "<script src=\"/static/js/reveal.js\">" in html


def test_sec32_reload_never_shows_the_code_again(logged_in, link, clock):
    client, _, _ = logged_in
    open_link(client, link)
    token = csrf_of(client.get("/reassort/regenerer"))
    shown = client.post("/reassort/regenerer", data={"csrf_token": token})
    new_code = code_on_page(shown)
    clock.advance(90)
    # A reload (GET, or the POST again) says when the code was regenerated, and shows no code.
    for again in (client.get("/reassort/regenerer"), client.post("/reassort/regenerer", data={"csrf_token": token})):
        html = page_text(again)
        assert again.status_code == 200 and "code-value" not in html and new_code not in html
        assert "Votre code a déjà été régénéré" in html and "demandez un nouveau lien" in html


def test_sec33_regeneration_ends_the_voters_other_sessions(app, logged_in, link):
    client, voter_id, email = logged_in
    other = app.test_client()
    login(other, email)
    assert other.get("/").status_code == 200
    regenerate(client, link)
    assert other.get("/").status_code == 302
    assert client.get("/").status_code == 200


def test_sec30_link_refused_after_poll_closed(settings, clock, request):
    settings["ELECTION_CLOSES_AT"] = dt.datetime.fromtimestamp(clock() + 60, dt.timezone.utc).isoformat()
    client, voter_id, _ = request.getfixturevalue("logged_in")
    link = request.getfixturevalue("link")
    clock.advance(61)
    app = request.getfixturevalue("app")
    assert regenerate(client, link).status_code == 403
    assert code_works(app, voter_id, CODE)


def stored_bytes(app, settings) -> bytes:
    """What the database holds, as raw as this test can read it.

    SQLite: the file itself and its journals (free pages and logs included).
    PostgreSQL (the server's files are not ours to read): every row of every table of
    the test's schema, each rendered whole by the server (``row::text``).
    """
    url = settings["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        db_file = url.removeprefix("sqlite:///")
        paths = glob.glob(glob.escape(db_file) + "*")
        assert db_file in paths
        return b"".join(pathlib.Path(path).read_bytes() for path in paths)
    with app.app_context():
        with db.engine.connect() as connection:
            tables = connection.execute(sa.text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")).scalars()
            rows = [connection.execute(sa.text(f'SELECT t::text FROM "{table}" t')).scalars().all()  # noqa: S608
                    for table in tables]
    return "\n".join(row for table in rows for row in table).encode()


def test_sec29_code_stored_as_keyed_digest_only(app, logged_in, link, settings):
    client, voter_id, _ = logged_in
    new_code = code_on_page(regenerate(client, link))
    voter = get_voter(app, voter_id)
    raw = stored_bytes(app, settings)
    assert voter.code_digest.encode() in raw  # what was read really holds the voter's row
    assert new_code.encode() not in raw
    assert len(voter.code_digest) == 64
    assert voter.code_digest != hashlib.sha256(new_code.encode()).hexdigest()
    assert code_works(app, voter_id, new_code)


def test_sec29_the_code_digest_depends_on_the_pepper(app, logged_in, link, settings):
    # The same database under another pepper recognises no code: the pepper, kept outside
    # the database, is part of every stored digest.
    client, voter_id, _ = logged_in
    new_code = code_on_page(regenerate(client, link))
    assert code_works(app, voter_id, new_code)
    for other_pepper in ("another-pepper-0123456789abcdef0123456789", ""):
        other = create_app({**settings, "HASH_PEPPER": other_pepper})
        assert not code_works(other, voter_id, new_code), f"code recognised under pepper {other_pepper!r}"
        with other.app_context():
            db.engine.dispose()


def test_regeneration_post_requires_csrf(logged_in, link):
    client, _, _ = logged_in
    open_link(client, link)
    assert client.post("/reassort/regenerer", data={}).status_code == 400
