"""The FranceConnect path over real HTTP against the loopback stand-in (SEC-25 to SEC-27).

The voter's browser is the Flask test client; the person at FranceConnect is a
``requests`` session driving the stand-in's consent page; the app's server-side
calls (discovery, token, userinfo, JWKS) reach the stand-in over 127.0.0.1.
"""

from __future__ import annotations

import os
import pathlib
import re

import pytest
import requests
from sqlalchemy import select

import config
from reassort.adapters.franceconnect.client import (
    CALLBACK_PATH,
    LOGOUT_RETURN_PATH,
    Attempt,
    FranceConnectClient,
    FranceConnectError,
    Settings,
)
from reassort.procedures import votegate
from reassort.storage.models import AuditEvent
from reassort.web.extensions import db
from tests import fc_fixtures
from tests.conftest import CODE, csrf_of, get_voter, page_text
from tests.fc_fixtures import (
    CLIENT_ID,
    CLIENT_SECRET,
    PUBLIC_URL,
    START,
    consent,
    local_path,
    query,
    start,
    through_franceconnect,
)
from tests.flows import code_on_page, follow_result, last_link, regenerate

FC_EMAIL = "angela.dubois@example.org"
CALLBACK = PUBLIC_URL + CALLBACK_PATH
PROBLEM = "Identification FranceConnect impossible"

# The stand-in's fixtures, shared with any other FranceConnect test module.
standin, skew, fc_settings = fc_fixtures.standin, fc_fixtures.skew, fc_fixtures.fc_settings


@pytest.fixture(autouse=True)
def _use_standin(fc_settings):
    """Every test here talks to the loopback stand-in unless it says otherwise."""


def events(app, name=None) -> list[AuditEvent]:
    with app.app_context():
        s = db.new_session()
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        s.close()
    return [e for e in rows if name is None or e.event == name]


def session_of(client) -> dict:
    with client.session_transaction() as sess:
        return dict(sess)


# -- the authorization request -------------------------------------------------

def test_start_requires_a_logged_in_voter(client):
    response = client.get(START)
    assert response.status_code == 302 and "/connexion" in response.headers["Location"]


def test_start_sends_every_parameter_franceconnect_requires(logged_in, standin):
    client, _, _ = logged_in
    url = start(client)
    assert url.startswith(standin.provider.issuer + "/authorize?")
    params = query(url)
    assert params["response_type"] == "code"
    assert params["client_id"] == CLIENT_ID
    assert params["redirect_uri"] == CALLBACK  # exact, from PUBLIC_URL, no query string
    assert params["acr_values"] == "eidas1"
    assert params["scope"].split() == ["openid", "given_name", "family_name", "birthdate", "birthplace",
                                       "birthcountry", "gender", "email"]
    for name in ("state", "nonce"):
        assert re.fullmatch(r"[A-Za-z0-9]{32,}", params[name])


def test_sec25_state_and_nonce_are_fresh_per_attempt_and_kept_in_the_session(logged_in):
    client, _, _ = logged_in
    first, second = query(start(client)), query(start(client))
    assert first["state"] != second["state"] and first["nonce"] != second["nonce"]
    kept = session_of(client)["fc_attempt"]
    assert (kept["state"], kept["nonce"]) == (second["state"], second["nonce"])


# -- the happy path --------------------------------------------------------------

def test_match_sends_one_link_by_email_to_the_franceconnect_address_and_it_regenerates(app, logged_in, outbox):
    client, voter_id, record_email = logged_in
    response = through_franceconnect(client)
    text = page_text(response)
    assert response.status_code == 200, text[:500]
    assert "Lien envoyé" in text and "a•••@example.org" in text and FC_EMAIL not in text
    assert "Se déconnecter de FranceConnect" in text
    messages = outbox()
    assert len(messages) == 1
    assert messages[0]["channel"] == "email" and messages[0]["to"] == FC_EMAIL != record_email
    assert "/reassort/lien/" in messages[0]["body"]
    assert [e.voter_id for e in events(app, "franceconnect_match")] == [voter_id]
    assert [e.detail for e in events(app, "link_requested")] == ["franceconnect:email"]

    reveal = regenerate(client, last_link(messages))
    assert reveal.status_code == 200
    new_code = code_on_page(reveal)
    with app.app_context():
        voter = get_voter(app, voter_id)
        assert votegate.code_matches(voter, new_code)
        assert not votegate.code_matches(voter, CODE)


def test_happy_path_leaves_no_insecure_transport_flag_behind(logged_in):
    client, _, _ = logged_in
    assert through_franceconnect(client).status_code == 200
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


@pytest.fixture
def pivot_settings(settings):
    settings["FRANCECONNECT_SCOPES"] = "openid identite_pivot email"
    return settings


def test_scope_aliases_expanded_by_the_provider_are_accepted(pivot_settings, logged_in, outbox):
    # Asked "identite_pivot", granted the claims it stands for: oauthlib's
    # "Scope has changed" is handled on purpose, not an error.
    client, _, _ = logged_in
    assert query(start(client))["scope"] == "openid identite_pivot email"
    response = through_franceconnect(client)
    assert response.status_code == 200, page_text(response)[:500]
    assert len(outbox()) == 1


def test_provider_clock_behind_within_leeway_is_accepted(logged_in, outbox, skew):
    client, _, _ = logged_in
    skew["s"] = -80  # the ID token expired 20 s ago by our clock: inside the 30 s leeway
    assert through_franceconnect(client).status_code == 200
    assert len(outbox()) == 1


def test_provider_clock_behind_beyond_leeway_is_refused(logged_in, outbox, skew):
    client, _, _ = logged_in
    skew["s"] = -100  # expired 40 s ago
    response = through_franceconnect(client)
    assert response.status_code == 502 and PROBLEM in page_text(response)
    assert outbox() == []


# -- state (SEC-25) ----------------------------------------------------------------

def test_sec25_callback_with_an_unknown_state_is_refused(app, logged_in, outbox):
    client, _, _ = logged_in
    back = query(consent(start(client)))
    response = client.get(f"{CALLBACK_PATH}?code={back['code']}&state={'x' * 32}")
    assert response.status_code == 400 and PROBLEM in page_text(response)
    assert outbox() == []
    assert [e.detail for e in events(app, "franceconnect_error")] == ["state"]


def test_sec25_cancel_with_a_forged_state_is_refused(logged_in, outbox):
    client, _, _ = logged_in
    start(client)
    response = client.get(f"{CALLBACK_PATH}?error=access_denied&state={'C' * 32}")
    assert response.status_code == 400 and PROBLEM in page_text(response)


def test_sec25_callback_without_any_attempt_is_refused(logged_in, outbox):
    client, _, _ = logged_in
    response = client.get(f"{CALLBACK_PATH}?code=abc&state={'A' * 32}")
    assert response.status_code == 400 and PROBLEM in page_text(response)
    assert outbox() == []


def test_sec25_replayed_callback_is_refused(logged_in, outbox):
    client, _, _ = logged_in
    back = consent(start(client))
    first = client.get(local_path(back))
    assert first.status_code == 303 and first.headers["Location"] == "/reassort/lien-envoye"
    replay = client.get(local_path(back))
    assert replay.status_code == 400 and PROBLEM in page_text(replay)
    assert len(outbox()) == 1


def test_sec25_attempt_left_too_long_at_the_provider_is_refused(logged_in, outbox, clock):
    client, _, _ = logged_in
    authorize = start(client)
    clock.advance(601)
    response = client.get(local_path(consent(authorize)))
    assert response.status_code == 400 and outbox() == []


def test_state_belongs_to_the_browser_that_started(app, logged_in, make_voter, outbox):
    # A callback URL carried to another browser (another voter's session) is refused.
    from tests.conftest import login
    client, _, _ = logged_in
    back = consent(start(client))
    other = app.test_client()
    other_id = make_voter()
    login(other, get_voter(app, other_id).email)
    response = other.get(local_path(back))
    assert response.status_code == 400 and outbox() == []


# -- every bad provider answer (SEC-26) --------------------------------------------

REFUSED = [  # fault at the stand-in, reason audited, why the client said no
    ("wrong_nonce", "id_token", "nonce"),
    ("wrong_aud", "id_token", "InvalidAudienceError"),
    ("wrong_iss", "id_token", "InvalidIssuerError"),
    ("expired", "id_token", "expiré"),
    ("bad_signature", "id_token", "InvalidSignatureError"),
    ("alg_none", "id_token", "algorithme ou kid refusé"),
    ("hs256_public_key", "id_token", "algorithme ou kid refusé"),
    ("no_acr", "id_token", "acr insuffisant"),
    ("low_acr", "id_token", "acr insuffisant"),
    ("unknown_kid", "jwks", "clé inconnue"),
    ("token_error", "token", "Invalid"),
    ("token_unavailable", "token", "Error"),
    ("userinfo_json", "userinfo", "application/json"),
    ("userinfo_bad_signature", "userinfo", "InvalidSignatureError"),
    ("userinfo_wrong_aud", "userinfo", "InvalidAudienceError"),
    ("userinfo_wrong_iss", "userinfo", "InvalidIssuerError"),
    ("userinfo_other_sub", "userinfo", "sub différent"),
]


@pytest.mark.parametrize("fault, reason, why", REFUSED, ids=[f for f, _, _ in REFUSED])
def test_sec26_bad_provider_answer_ends_on_a_friendly_page_and_sends_nothing(app, logged_in, outbox, standin, caplog,
                                                                           fault, reason, why):
    client, voter_id, _ = logged_in
    standin.faults.add(fault)
    generation = get_voter(app, voter_id).link_generation
    response = through_franceconnect(client)
    text = page_text(response)
    assert response.status_code == 502
    assert PROBLEM in text and "aucun lien n'a été envoyé" in text
    assert outbox() == []
    assert [(e.voter_id, e.detail) for e in events(app, "franceconnect_error")] == [(voter_id, reason)]
    assert events(app, "franceconnect_match") == []
    refusals = [r.getMessage() for r in caplog.records if r.name == "reassort.franceconnect"]
    assert len(refusals) == 1 and f"({reason}: " in refusals[0] and why in refusals[0], refusals
    with app.app_context():
        assert get_voter(app, voter_id).link_generation == generation


def test_sec26_key_rotation_refetches_the_jwks_once_and_succeeds(logged_in, outbox, standin):
    client, _, _ = logged_in
    assert through_franceconnect(client).status_code == 200
    assert standin.provider.hits["jwks"] == 1
    standin.provider.rotate_keys()
    response = through_franceconnect(client)
    assert response.status_code == 200, page_text(response)[:500]
    assert standin.provider.hits["jwks"] == 2
    assert len(outbox()) == 2


def test_sec26_unknown_kid_refetches_the_jwks_exactly_once_then_refuses(logged_in, outbox, standin):
    client, _, _ = logged_in
    assert through_franceconnect(client).status_code == 200
    standin.faults.add("unknown_kid")
    response = through_franceconnect(client)
    assert response.status_code == 502
    assert standin.provider.hits["jwks"] == 2
    assert len(outbox()) == 1


def test_discovery_document_and_jwks_are_cached_between_attempts(logged_in, standin):
    client, _, _ = logged_in
    for _ in range(2):
        assert through_franceconnect(client).status_code == 200
    assert standin.provider.hits["discovery"] == 1 and standin.provider.hits["jwks"] == 1


# -- identity (SEC-27), cancel, logout ---------------------------------------------

def test_sec27_identity_mismatch_sends_nothing(app, logged_in, outbox):
    client, voter_id, _ = logged_in
    response = through_franceconnect(client, identity="nobody")
    text = page_text(response)
    assert response.status_code == 200
    assert "Identité non reconnue" in text and "Aucun lien n'a été envoyé" in text
    assert "Se déconnecter de FranceConnect" in text
    assert outbox() == []
    assert [(e.voter_id, e.detail) for e in events(app, "franceconnect_mismatch")] == [
        (voter_id, "nom,prenom,date,lieu")]


def test_sec27_voter_with_other_given_names_is_not_matched(app, client, make_voter, outbox):
    from tests.conftest import login
    voter_id = make_voter(prenoms="Claire")  # Angela is FranceConnect's first given name
    login(client, get_voter(app, voter_id).email)
    response = through_franceconnect(client)
    assert "Identité non reconnue" in page_text(response)
    assert outbox() == []


def test_cancel_returns_to_the_choice_page_with_a_message(app, logged_in, outbox):
    client, voter_id, _ = logged_in
    response = through_franceconnect(client, cancel=True)
    assert response.status_code == 303 and response.headers["Location"].endswith("/reassort")
    page = client.get("/reassort")
    assert "Vous avez annulé l'identification avec FranceConnect" in page_text(page)
    assert outbox() == []
    assert [e.voter_id for e in events(app, "franceconnect_cancel")] == [voter_id]


def test_logout_goes_through_session_end_and_comes_back(logged_in, standin):
    client, _, _ = logged_in
    through_franceconnect(client)
    id_token = session_of(client)["fc_id_token"]
    response = client.get("/reassort/franceconnect/deconnexion")
    assert response.status_code == 303
    target = response.headers["Location"]
    assert target.startswith(standin.provider.issuer + "/session/end?")
    params = query(target)
    assert params["id_token_hint"] == id_token
    assert params["post_logout_redirect_uri"] == PUBLIC_URL + LOGOUT_RETURN_PATH
    assert re.fullmatch(r"[A-Za-z0-9]{32,}", params["state"])
    assert "fc_id_token" not in session_of(client)  # kept only as long as needed

    back = requests.get(target, allow_redirects=False, timeout=5)
    assert back.status_code == 303 and query(back.headers["Location"]) == {"state": params["state"]}
    page = client.get(local_path(back.headers["Location"]))
    assert "Vous êtes déconnecté de FranceConnect" in page_text(page)
    assert standin.provider.hits["session_end"] == 1


def test_logout_return_with_a_foreign_state_shows_nothing(logged_in):
    client, _, _ = logged_in
    response = client.get(f"{LOGOUT_RETURN_PATH}?state={'B' * 32}")
    assert response.status_code == 303


def test_new_attempt_drops_the_previous_id_token(logged_in):
    client, _, _ = logged_in
    through_franceconnect(client)
    start(client)
    assert "fc_id_token" not in session_of(client)


# -- the stand-in keeps FranceConnect's rules -------------------------------------------

def _code(logged_in_client) -> tuple[str, dict]:
    back = query(consent(start(logged_in_client)))
    form = {"grant_type": "authorization_code", "code": back["code"], "redirect_uri": CALLBACK,
            "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    return back["code"], form


def test_standin_token_endpoint_takes_client_secret_post_only(logged_in, standin):
    client, _, _ = logged_in
    _, form = _code(client)
    basic = {k: v for k, v in form.items() if k not in ("client_id", "client_secret")}
    refused = requests.post(standin.provider.issuer + "/token", data=basic, auth=(CLIENT_ID, CLIENT_SECRET), timeout=5)
    assert refused.status_code == 401


def test_standin_code_is_single_use(logged_in, standin):
    client, _, _ = logged_in
    _, form = _code(client)
    first = requests.post(standin.provider.issuer + "/token", data=form, timeout=5)
    again = requests.post(standin.provider.issuer + "/token", data=form, timeout=5)
    assert first.status_code == 200 and again.status_code == 400


def test_standin_code_lives_30_seconds(logged_in, standin, clock):
    client, _, _ = logged_in
    _, form = _code(client)
    clock.advance(31)
    assert requests.post(standin.provider.issuer + "/token", data=form, timeout=5).status_code == 400


def test_standin_refuses_short_state_without_redirecting(standin):
    url = (f"{standin.provider.issuer}/authorize?response_type=code&client_id={CLIENT_ID}&redirect_uri={CALLBACK}"
           f"&scope=openid&acr_values=eidas1&state=short&nonce={'n' * 32}")
    response = requests.get(url, allow_redirects=False, timeout=5)
    assert response.status_code == 400 and "state" in response.text


def test_standin_fault_names_are_checked(standin):
    with pytest.raises(ValueError):
        standin.faults.add("wrong-aud")


# -- configuration alone chooses the platform ----------------------------------------------

SANDBOX = "https://fcp-low.sbx.dev-franceconnect.fr/api/v2"
SANDBOX_DISCOVERY = {  # shaped like the sandbox's document: every endpoint under /api/v2
    "issuer": SANDBOX,
    "authorization_endpoint": SANDBOX + "/authorize",
    "token_endpoint": SANDBOX + "/token",
    "userinfo_endpoint": SANDBOX + "/userinfo",
    "end_session_endpoint": SANDBOX + "/session/end",
    "jwks_uri": SANDBOX + "/jwks",
    "id_token_signing_alg_values_supported": ["ES256", "RS256"],
    "acr_values_supported": ["eidas1"],
}


class RecordedProvider(requests.adapters.BaseAdapter):
    """Answers from recorded documents, so the test never leaves the machine."""

    def __init__(self, documents: dict[str, dict]):
        super().__init__()
        self.documents, self.asked = documents, []

    def send(self, request, **_kwargs):
        import json
        self.asked.append(request.url)
        response = requests.Response()
        response.url, response.request = request.url, request
        document = self.documents.get(request.url)
        response.status_code = 200 if document is not None else 404
        response._content = json.dumps(document or {}).encode()
        response.headers["Content-Type"] = "application/json"
        return response

    def close(self):
        pass


def sandbox_client(documents) -> tuple[FranceConnectClient, RecordedProvider]:
    settings = Settings.from_config(config.load({"PUBLIC_URL": "https://vote.example.fr", "ENV": "production",
                                                 "FRANCECONNECT_ISSUER": SANDBOX, "FRANCECONNECT_CLIENT_ID": "id",
                                                 "FRANCECONNECT_CLIENT_SECRET": "secret"}, environ={}))
    http = requests.Session()
    adapter = RecordedProvider(documents)
    http.mount("https://", adapter)
    http.mount("http://", adapter)
    return FranceConnectClient(settings, http, now=lambda: 1_800_000_000.0), adapter


def test_sandbox_or_production_is_reached_by_configuration_alone():
    fc, adapter = sandbox_client({SANDBOX + "/.well-known/openid-configuration": SANDBOX_DISCOVERY})
    attempt = fc.new_attempt()
    assert fc.authorization_url(attempt).startswith(SANDBOX + "/authorize?")
    assert fc.logout_url("id.token.hint", "s" * 32).startswith(SANDBOX + "/session/end?")
    assert adapter.asked == [SANDBOX + "/.well-known/openid-configuration"]


def test_standard_paths_under_the_issuer_when_discovery_is_unavailable():
    fc, _ = sandbox_client({})
    endpoints = fc.endpoints()
    assert endpoints == {"authorization_endpoint": SANDBOX + "/authorize", "token_endpoint": SANDBOX + "/token",
                         "userinfo_endpoint": SANDBOX + "/userinfo", "end_session_endpoint": SANDBOX + "/session/end",
                         "jwks_uri": SANDBOX + "/jwks"}


def test_discovery_document_naming_another_issuer_is_refused():
    fc, _ = sandbox_client({SANDBOX + "/.well-known/openid-configuration": {**SANDBOX_DISCOVERY,
                                                                           "issuer": "https://evil.example/api/v2"}})
    with pytest.raises(FranceConnectError):
        fc.endpoints()


@pytest.fixture
def sandbox_settings(settings):
    settings.update(FRANCECONNECT_ISSUER=SANDBOX)
    return settings


def test_app_start_goes_to_the_configured_sandbox(sandbox_settings, logged_in):
    client, _, _ = logged_in
    fc, _ = sandbox_client({SANDBOX + "/.well-known/openid-configuration": SANDBOX_DISCOVERY})
    fc.settings = Settings.from_config(client.application.config)  # the app's own settings, recorded transport
    client.application.extensions["reassort.franceconnect_client"] = fc
    url = start(client)
    assert url.startswith(SANDBOX + "/authorize?")
    assert query(url)["redirect_uri"] == CALLBACK


def test_no_provider_host_is_written_in_the_code():
    root = pathlib.Path(__file__).resolve().parent.parent
    for name in ("reassort/adapters/franceconnect/client.py", "views/franceconnect.py", "reassort/rules/identity.py"):
        source = (root / name).read_text(encoding="utf-8")
        assert not re.search(r"franceconnect\.(gouv\.)?fr|dev-franceconnect", source), name


def test_plain_http_issuer_is_refused_outside_development():
    settings = Settings.from_config(config.load({
        "PUBLIC_URL": "https://vote.example.fr", "ENV": "production", "FRANCECONNECT_ISSUER": "http://fc.example/api/v2",
        "FRANCECONNECT_CLIENT_ID": "id", "FRANCECONNECT_CLIENT_SECRET": "secret"}, environ={}))
    with pytest.raises(FranceConnectError) as refused:
        FranceConnectClient(settings, now=lambda: 0.0).authorization_url(Attempt("s" * 32, "n" * 32, 0))
    assert refused.value.reason == "config"


# -- the in-app stand-in (the demo, offline) -----------------------------------------------

@pytest.fixture
def in_app_settings(settings):
    settings.update(FRANCECONNECT_ISSUER="", FRANCECONNECT_CLIENT_ID="", FRANCECONNECT_CLIENT_SECRET="",
                    FRANCECONNECT_STANDIN=True)
    return settings


def click_through_in_app(client, public_url: str) -> None:
    """The demo's journey with the in-app stand-in, all through the Flask test client."""
    authorize = start(client)
    assert authorize.startswith(public_url + "/fc-standin/api/v2/authorize?")
    page = client.get(authorize.removeprefix(public_url))
    assert page.status_code == 200 and "Choisir une identité de test" in page_text(page)
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    back = client.post("/fc-standin/api/v2/authorize", data={"request_id": request_id, "identity": "angela",
                                                            "action": "consent", "csrf_token": csrf_of(page)})
    assert back.status_code == 303 and back.headers["Location"].startswith(public_url + CALLBACK_PATH + "?")
    response = follow_result(client, client.get(back.headers["Location"].removeprefix(public_url)))
    assert response.status_code == 200 and "Lien envoyé" in page_text(response), page_text(response)[:500]


def test_in_app_standin_clicks_through_without_network(in_app_settings, logged_in, outbox):
    client, _, _ = logged_in
    click_through_in_app(client, PUBLIC_URL)
    assert [m["to"] for m in outbox()] == [FC_EMAIL]


@pytest.fixture
def demo_settings(in_app_settings):
    in_app_settings["PUBLIC_URL"] = "http://127.0.0.1:5000"  # the demo's default: plain http
    return in_app_settings


def test_in_app_standin_on_plain_http_for_the_demo(demo_settings, logged_in, outbox):
    client, _, _ = logged_in
    click_through_in_app(client, demo_settings["PUBLIC_URL"])
    assert [m["to"] for m in outbox()] == [FC_EMAIL]
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_in_app_standin_consent_form_needs_its_csrf_token(in_app_settings, logged_in):
    client, _, _ = logged_in
    page = client.get(local_path(start(client)))
    request_id = re.search(r'name="request_id" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    refused = client.post("/fc-standin/api/v2/authorize", data={"request_id": request_id, "identity": "angela",
                                                               "action": "consent"})
    assert refused.status_code == 400
