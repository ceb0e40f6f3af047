"""Tokens and callback parameters, fed anything: the generic page, never a 500 (SEC-03).

``/reassort/lien/<any>``, ``/activation/<any>`` (GET and POST),
``/captcha/image/<any>.png`` and ``/captcha/audio/<any>.wav``, and the
FranceConnect callback's ``code``, ``state`` and ``error``.  Tokens are arbitrary
text and mutations of a genuine token (a character changed, cut, lengthened,
re-cased, signed with another key or for another purpose); each answer must be
the same generic page, and nothing may change.
"""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from reassort.procedures import links
from reassort.rules import tokens
from tests.conftest import get_voter
from tests.fuzzing import NASTY, OPEN_LIMITS, any_text, assert_clean, field_text, fuzz_settings

LINK_INVALID = "Ce lien n'est pas valide"
ACTIVATION_INVALID = "Ce lien d'activation n'est pas valide"
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
#: Werkzeug's routing answers a path with repeated slashes (``%2F`` decodes to one) by a 308
#: to the merged path, before any of the app's code runs: a normalisation, not an error.
MERGED_SLASHES = 308


@pytest.fixture
def settings(settings):
    settings.update(OPEN_LIMITS)
    return settings


@st.composite
def mutated(draw, genuine: str) -> str:
    """A genuine token with one change a tamperer or a mangling mail client could make."""
    kind = draw(st.sampled_from(["replace", "cut", "extend", "swapcase", "insert", "duplicate"]))
    i = draw(st.integers(0, len(genuine) - 1))
    if kind == "replace":
        return genuine[:i] + draw(st.sampled_from(TOKEN_ALPHABET + "%=+/ ")) + genuine[i + 1:]
    if kind == "cut":
        return genuine[:max(i, 1)]
    if kind == "extend":
        return genuine + draw(st.text(TOKEN_ALPHABET, min_size=1, max_size=20))
    if kind == "swapcase":
        return genuine[:i] + genuine[i:].swapcase()
    if kind == "insert":
        return genuine[:i] + draw(st.sampled_from(["\x00", ".", "..", "%00", "é", " "])) + genuine[i:]
    return genuine + genuine


@st.composite
def forged(draw, salt: str) -> str:
    """Well-formed tokens the server never issued: another key, other claims, another purpose."""
    key = draw(st.sampled_from(["une-autre-cle-0123456789abcdef0123456789",
                                "test-secret-key-0123456789abcdef0123456789"]))
    claim = draw(st.one_of(st.tuples(st.integers(), st.integers()).map(list), st.lists(st.integers(), max_size=3),
                           st.dictionaries(st.text(max_size=5), st.integers(), max_size=2), st.text(max_size=20),
                           st.just([1, 10**40]), st.just(["1", "0"]), st.just([1.5, 0])))
    other_salt = draw(st.sampled_from([salt, tokens.ACTIVATION, tokens.REISSUE, "reassort.captcha", ""]))
    return URLSafeTimedSerializer(key, salt=other_salt).dumps(claim)


def token_text(genuine: str, salt: str):
    return st.one_of(st.text(TOKEN_ALPHABET, min_size=1, max_size=200), any_text.filter(bool),
                     st.sampled_from([t for t in NASTY if t]), mutated(genuine), forged(salt))


def is_equivalent(app, purpose: str, candidate: str, genuine: str, max_age: int) -> bool:
    """True when ``candidate`` is the genuine token spelt another way (base64's unused low bits)."""
    with app.app_context():
        return candidate != genuine and links.read(purpose, candidate, max_age) == links.read(purpose, genuine,
                                                                                                 max_age)


def test_any_reissue_link_gets_the_generic_page_and_changes_nothing(app, client, make_voter):
    voter_id = make_voter(link_generation=3)
    with app.app_context():
        genuine = links.make(tokens.REISSUE, voter_id, 3)
    before = get_voter(app, voter_id)

    @fuzz_settings(scale=2)
    @given(data=st.data())
    def check(data):
        token = data.draw(token_text(genuine, tokens.REISSUE))
        assume(token != genuine)
        response = client.get("/reassort/lien/" + quote(token, safe=""))
        if response.status_code == 303:
            # Only the genuine link spelt another way may open (nothing forged ever does).
            assert is_equivalent(app, tokens.REISSUE, token, genuine, 600)
            with client.session_transaction() as session:
                session.pop("reissue")
            return
        assert_clean(response, allowed={400, 404, MERGED_SLASHES})
        if response.status_code == 400:
            assert LINK_INVALID in response.get_data(as_text=True)
        with client.session_transaction() as session:
            assert "reissue" not in session
        after = get_voter(app, voter_id)
        assert (after.link_generation, after.code_digest) == (before.link_generation, before.code_digest)

    check()


def test_mutated_reissue_links_get_exactly_the_generic_page(app, client, make_voter):
    voter_id = make_voter()
    with app.app_context():
        genuine = links.make(tokens.REISSUE, voter_id, 0)
    reference = client.get("/reassort/lien/not-a-token")

    @fuzz_settings()
    @given(token=st.one_of(mutated(genuine), forged(tokens.REISSUE)))
    def check(token):
        assume(token != genuine and "/" not in token)
        response = client.get("/reassort/lien/" + quote(token, safe=""))
        if response.status_code == 303:
            assert is_equivalent(app, tokens.REISSUE, token, genuine, 600)
            return
        # SEC-03: tampered, forged, other purpose: the very same page as any junk.
        assert response.status_code == 400
        assert response.get_data() == reference.get_data()

    check()


def test_any_activation_link_gets_the_generic_page_and_changes_nothing(app, client, make_voter):
    voter_id = make_voter(activated=False)
    with app.app_context():
        genuine = links.make(tokens.ACTIVATION, voter_id, 0)
    before = get_voter(app, voter_id)

    @fuzz_settings(scale=2)
    @given(token=token_text(genuine, tokens.ACTIVATION), method=st.sampled_from(["GET", "POST"]),
           body=st.dictionaries(st.sampled_from(["password", "confirm", "question", "answer", "csrf_token"]),
                                field_text))
    def check(token, method, body):
        assume(token != genuine)
        url = "/activation/" + quote(token, safe="")
        response = client.get(url) if method == "GET" else client.post(url, data=body)
        if response.status_code == 200 and method == "GET":
            assert is_equivalent(app, tokens.ACTIVATION, token, genuine, 7 * 24 * 3600)
            return
        assert_clean(response, allowed={400, 404, MERGED_SLASHES})
        if response.status_code == 400 and method == "GET":
            assert ACTIVATION_INVALID in response.get_data(as_text=True)
        after = get_voter(app, voter_id)
        assert (after.password_hash, after.activation_generation) == (None, before.activation_generation)

    check()


@pytest.fixture
def captcha_settings(settings):
    settings["CAPTCHA_ENABLED"] = True
    return settings


def test_any_captcha_name_gets_a_404_page(captcha_settings, app, client):
    client.get("/connexion")  # this session now has a challenge of its own

    @fuzz_settings(scale=2)
    @given(name=st.one_of(any_text.filter(bool), st.text(TOKEN_ALPHABET, min_size=1, max_size=64),
                          st.sampled_from([t for t in NASTY if t])),
           kind=st.sampled_from([("image", "png"), ("audio", "wav")]))
    def check(name, kind):
        response = client.get(f"/captcha/{kind[0]}/{quote(name, safe='')}.{kind[1]}")
        assert_clean(response, allowed={404, MERGED_SLASHES})

    check()


@pytest.fixture
def fc_settings(settings):
    """The in-app FranceConnect stand-in: its calls stay inside the process (no network)."""
    settings.update(FRANCECONNECT_STANDIN=True, FRANCECONNECT_ISSUER="")
    return settings


CALLBACK = "/reassort/franceconnect/retour"


def test_any_franceconnect_callback_gets_a_clear_page_and_sends_nothing(fc_settings, app, logged_in, outbox):
    client, voter_id, _ = logged_in
    before = get_voter(app, voter_id)

    @fuzz_settings()
    @given(data=st.data())
    def check(data):
        started = client.get("/reassort/franceconnect")
        assert started.status_code == 303, started.data[:300]
        state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
        params = []
        for name, plausible in (("state", st.just(state)), ("code", st.text(TOKEN_ALPHABET, max_size=40)),
                                ("error", st.sampled_from(["access_denied", "invalid_request", "server_error"]))):
            how = data.draw(st.sampled_from(["plausible", "plausible", "fuzz", "missing", "twice"]), label=name)
            if how == "plausible":
                params.append((name, data.draw(plausible)))
            elif how == "fuzz":
                params.append((name, data.draw(field_text)))
            elif how == "twice":
                params += [(name, data.draw(field_text)), (name, data.draw(plausible))]
        params += data.draw(st.lists(st.tuples(field_text, field_text), max_size=2), label="extra")
        query = urlencode(params)
        if data.draw(st.booleans(), label="raw bytes"):
            query += "&code=%ff%fe%00&state=%c0%af"
        response = client.get(CALLBACK + "?" + query)
        if response.status_code == 303:
            # access_denied with the right state: back to the choice of mode, nothing sent.
            assert "/reassort" in response.headers["Location"]
        else:
            assert_clean(response, allowed={400, 502, 503})
        assert outbox() == []
        assert get_voter(app, voter_id).link_generation == before.link_generation

    check()


@pytest.mark.parametrize("voter_id, generation", [(2**63, 1), (-1, 1), (0, 1), (1, 2**31), (1, -5)])
def test_a_genuine_token_with_impossible_numbers_is_a_bad_link(app, voter_id, generation):
    # Signed with our key (a leaked or fallback key, or a bug elsewhere), yet not a voter of ours:
    # the generic bad-link page, never an overflow in the database.
    with app.app_context():
        token = links.make(tokens.REISSUE, voter_id, generation)
    response = app.test_client().get("/reassort/lien/" + token)
    assert response.status_code == 400 and "Ce lien n'est pas valide" in response.get_data(as_text=True)
