"""Metrics (issue 16 item 1): what each counter counts, its labels' allow-lists, the endpoint.

The counts live in this process (no ``PROMETHEUS_MULTIPROC_DIR``) and are shared by
every test of the run: each test compares a snapshot taken before with one taken
after, and asserts the whole difference — what moved, and that nothing else did.
``tests/test_metrics_gunicorn.py`` does the same through a real gunicorn.
"""

from __future__ import annotations

import re

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import config
from reassort import metrics
from reassort.adapters import messaging
from reassort.procedures import audit, audit_metrics
from reassort.web.extensions import db
from tests.conftest import CODE, login, post_form
from tests.flows import ask_link, last_link, open_link, regenerate

TOKEN = "jeton-de-supervision-0123456789abcdef"
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def snapshot() -> dict[tuple[str, tuple], float]:
    """Every ``reassort_*`` sample of this process, but latency sums and buckets (they vary)."""
    found = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            if not sample.name.startswith("reassort_") or sample.name.endswith(("_sum", "_bucket")):
                continue
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def moved(before: dict, after: dict, ignore: tuple[str, ...] = ("reassort_http_",)) -> dict:
    """``{(name, labels): delta}`` of what changed (HTTP request counts left out unless asked)."""
    return {key: after[key] - before.get(key, 0) for key in after
            if after[key] != before.get(key, 0) and not key[0].startswith(ignore)}


def key(name: str, **labels: str) -> tuple[str, tuple]:
    return name, tuple(sorted(labels.items()))


def events(*names: str) -> dict:
    """The ``reassort_audit_events_total`` moves of these events, once each (repeated names add up)."""
    out: dict = {}
    for name in names:
        k = key("reassort_audit_events_total", event=name)
        out[k] = out.get(k, 0) + 1
    return out


# -- allow-lists ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["jeanne.perso@exemple.org", "+33612345678", "06 12 34 56 78", "12345",
                                   "WzEsMF0.aBcDeFgHiJkLmN.OpQrStUvWxYz", "12E1234567ABC", "", None, "ok\n"])
def test_a_label_value_outside_its_allow_list_is_counted_as_other(value):
    before = snapshot()
    audit_metrics.LOGINS.inc(outcome=value)
    metrics.DELIVERIES.inc(channel=value, provider=value, domain=value, outcome=value)
    assert moved(before, snapshot()) == {
        key("reassort_logins_total", outcome="other"): 1,
        key("reassort_deliveries_total", channel="other", provider="other", domain="other", outcome="other"): 1}


def test_a_family_refuses_a_missing_or_unknown_label():
    with pytest.raises(TypeError):
        audit_metrics.LOGINS.inc()
    with pytest.raises(TypeError):
        audit_metrics.LOGINS.inc(outcome="ok", voter="1")


@pytest.mark.parametrize("channel, to, label", [
    ("email", "jeanne@gmail.com", "gmail.com"),
    ("email", "Jeanne.Perso@ORANGE.FR", "orange.fr"),
    ("email", "j@yahoo.fr.", "yahoo.fr"),
    ("email", "jeanne@famille-martin.fr", "other"),
    ("email", "agent1@education.gouv.fr", "other"),
    ("email", "sans-arobase", "other"),
    ("email", "x@mail.gmail.com", "other"),
    ("sms", "+33612345678", "fr"),
    ("sms", "+590690123456", "gp"),
    ("sms", "+262692123456", "re"),
    ("sms", "+4915112345678", "other"),
    ("sms", "0612345678", "other"),
])
def test_recipient_domain_names_only_large_public_domains(channel, to, label):
    assert metrics.recipient_domain(channel, to) == label


def test_the_public_domain_list_is_read_from_the_repository():
    assert {"gmail.com", "orange.fr", "yahoo.fr", "hotmail.fr", "laposte.net", "free.fr"} <= metrics.PUBLIC_DOMAINS
    assert all(d == d.strip().lower() and "@" not in d and " " not in d for d in metrics.PUBLIC_DOMAINS)


def test_provider_allow_list_is_the_messaging_backends():
    assert metrics.PROVIDERS == set(messaging.MAIL_BACKENDS) | set(messaging.SMS_BACKENDS)


def test_metrics_core_imports_neither_flask_nor_the_database():
    from tests.test_layout import PACKAGE, offending
    assert offending([PACKAGE / "metrics.py"], {"flask", "werkzeug", "sqlalchemy", "reassort.procedures",
                                                "reassort.web", "reassort.storage", "reassort.adapters"}) == {}


# -- the audit trail's events ----------------------------------------------------------------

def reassorts(path, outcome):
    return key("reassort_reassort_requests_total", path=path, outcome=outcome)


def links(channel, outcome):
    return key("reassort_links_total", channel=channel, outcome=outcome)


def resets(outcome):
    return key("reassort_password_resets_total", outcome=outcome)


#: (event, detail) → what it moves besides reassort_audit_events_total{event}.
MAPPING = [
    ("login_ok", None, {key("reassort_logins_total", outcome="ok"): 1}),
    ("login_failed", None, {key("reassort_logins_total", outcome="refused"): 1}),
    ("login_failed", "captcha", {key("reassort_logins_total", outcome="captcha"): 1}),
    ("code_ok", None, {key("reassort_vote_codes_total", outcome="accepted"): 1}),
    ("code_failed", None, {key("reassort_vote_codes_total", outcome="refused"): 1}),
    ("code_failed", "captcha", {key("reassort_vote_codes_total", outcome="captcha"): 1}),
    ("code_outside_window", None, {key("reassort_vote_codes_total", outcome="outside_window"): 1}),
    ("link_requested", "sms", {links("sms", "sent"): 1, reassorts("defi", "sent"): 1}),
    ("link_requested", "franceconnect:email", {links("email", "sent"): 1, reassorts("franceconnect", "sent"): 1}),
    ("link_send_failed", "email", {links("email", "send_failed"): 1, reassorts("defi", "send_failed"): 1}),
    ("link_send_failed", "franceconnect:email",
     {links("email", "send_failed"): 1, reassorts("franceconnect", "send_failed"): 1}),
    ("throttled", "links_per_hour", {key("reassort_throttled_total", limit="links_per_hour"): 1,
                                     reassorts("defi", "too_many_links"): 1}),
    ("throttled", "franceconnect:links_per_hour", {key("reassort_throttled_total", limit="links_per_hour"): 1,
                                                   reassorts("franceconnect", "too_many_links"): 1}),
    ("throttled", "global_cap_sms", {key("reassort_throttled_total", limit="global_cap_sms"): 1,
                                     reassorts("defi", "capped"): 1, links("sms", "capped"): 1}),
    ("throttled", "auth.login", {key("reassort_throttled_total", limit="auth.login"): 1}),
    ("throttled", "jeanne@exemple.org", {key("reassort_throttled_total", limit="other"): 1}),
    ("challenge_failed", None, {reassorts("defi", "wrong"): 1}),
    ("challenge_locked", "started", {key("reassort_locks_total", kind="challenge"): 1}),
    ("challenge_locked", "refused", {reassorts("defi", "locked"): 1}),
    ("link_opened", None, {key("reassort_link_opens_total", outcome="valid"): 1}),
    ("link_invalid", None, {key("reassort_link_opens_total", outcome="invalid"): 1}),
    ("code_regenerated", None, {key("reassort_regenerations_total", outcome="regenerated"): 1}),
    ("regeneration_conflict", None, {key("reassort_regenerations_total", outcome="conflict"): 1}),
    ("franceconnect_match", None, {key("reassort_franceconnect_total", result="match"): 1}),
    ("franceconnect_mismatch", "nom,date", {
        key("reassort_franceconnect_total", result="mismatch"): 1, reassorts("franceconnect", "mismatch"): 1,
        key("reassort_franceconnect_mismatches_total", field="nom"): 1,
        key("reassort_franceconnect_mismatches_total", field="date"): 1}),
    ("franceconnect_error", "id_token", {
        key("reassort_franceconnect_total", result="error"): 1, reassorts("franceconnect", "error"): 1,
        key("reassort_franceconnect_errors_total", reason="id_token"): 1}),
    ("franceconnect_cancel", None, {key("reassort_franceconnect_total", result="cancelled"): 1,
                                    reassorts("franceconnect", "cancelled"): 1}),
    ("activation_sent", None, {key("reassort_activations_total", outcome="link_sent"): 1}),
    ("activation_ok", None, {key("reassort_activations_total", outcome="activated"): 1}),
    ("activation_link_invalid", None, {key("reassort_activations_total", outcome="link_invalid"): 1}),
    ("logout", None, {}),
    ("helpdesk_unlock", "operateur=agent motif=appel", {}),
    # The voter's account around the journey (issue 14).
    ("password_reset_requested", None, {resets("requested"): 1}),
    ("password_reset_requested", "captcha", {resets("captcha"): 1}),
    ("activation_requested", None, {key("reassort_activations_total", outcome="requested"): 1}),
    ("activation_requested", "captcha", {key("reassort_activations_total", outcome="captcha"): 1}),
    ("password_reset_sent", "demande", {resets("link_sent"): 1}),
    ("activation_sent", "demande", {key("reassort_activations_total", outcome="link_sent"): 1}),
    ("account_link_send_failed", "password_reset", {resets("send_failed"): 1}),
    ("account_link_send_failed", "activation", {key("reassort_activations_total", outcome="send_failed"): 1}),
    ("password_reset_link_opened", None, {resets("link_opened"): 1}),
    ("password_reset_link_invalid", "expired", {resets("link_invalid"): 1}),
    ("password_reset_ok", None, {resets("reset"): 1}),
    ("password_changed", None, {key("reassort_account_changes_total", change="password", outcome="done"): 1}),
    ("challenge_changed", None, {key("reassort_account_changes_total", change="challenge", outcome="done"): 1}),
    ("account_change_refused", "password",
     {key("reassort_account_changes_total", change="password", outcome="refused"): 1}),
    ("throttled", "account_links_per_address",
     {key("reassort_throttled_total", limit="account_links_per_address"): 1}),
    ("throttled", "account_links_per_hour", {key("reassort_throttled_total", limit="account_links_per_hour"): 1}),
    ("throttled", "account_global_cap_email",
     {key("reassort_throttled_total", limit="account_global_cap_email"): 1}),
    ("throttled", "login_per_account", {key("reassort_throttled_total", limit="login_per_account"): 1}),
]


@pytest.mark.parametrize("event, detail, expected", MAPPING, ids=[f"{e}-{d}" for e, d, _ in MAPPING])
def test_each_audit_event_moves_exactly_its_counters(app, event, detail, expected):
    metrics.allow_endpoints(app.view_functions)
    before = snapshot()
    audit_metrics.count(event, detail)
    assert moved(before, snapshot()) == {**events(event), **expected}


def test_every_audit_event_is_counted_by_name(app):
    before = snapshot()
    for event in sorted(audit.EVENTS):
        audit_metrics.count(event, None)
    assert moved(before, snapshot()).keys() >= events(*audit.EVENTS).keys()


def test_an_event_is_counted_when_its_transaction_commits_never_when_rolled_back(app):
    with app.app_context():
        s = db.new_session()
        try:
            before = snapshot()
            audit.record(s, "login_ok")
            assert moved(before, snapshot()) == {}, "counted before the commit"
            s.rollback()
            audit.record(s, "logout")
            s.commit()
            audit.record(s, "code_ok")  # left pending, then the session is closed
        finally:
            s.close()
        s = db.new_session()
        try:
            s.commit()  # a later commit of another session counts nothing of the closed one
        finally:
            s.close()
    assert moved(before, snapshot()) == events("logout")


# -- a journey through the app --------------------------------------------------------------

@pytest.fixture
def settings(settings, gateway):
    settings.update(SMS_BACKEND="http", SMS_HTTP_URL=gateway.url, SMS_HTTP_TIMEOUT=0.5, METRICS_TOKEN=TOKEN)
    return settings


def test_metrics_after_a_scripted_journey_move_by_exactly_what_happened(app, client, make_voter, outbox,
                                                                        gateway):
    voter_id = make_voter()
    email = f"agent{voter_id}@education.gouv.fr"
    client.get("/connexion")
    before = snapshot()
    assert login(client, email, "pas le bon mot de passe").status_code == 200
    assert login(client, email).status_code == 302
    post_form(client, "/vote", {"code": "AAAA-BBBB-CCCC"})
    assert post_form(client, "/vote", {"code": CODE}).status_code == 302
    ask_link(client, answer="Camille")
    ask_link(client, channel="email", email="jeanne.perso@gmail.com")
    gateway.status = 500
    assert ask_link(client, channel="sms").status_code == 503
    link = last_link(outbox())
    assert "Votre nouveau code" in regenerate(client, link).get_data(as_text=True)
    assert open_link(client, link).status_code == 400
    assert moved(before, snapshot()) == {
        **events("login_failed", "login_ok", "code_failed", "code_ok", "challenge_failed", "link_requested",
                 "link_send_failed", "link_opened", "code_regenerated", "link_invalid"),
        key("reassort_logins_total", outcome="refused"): 1,
        key("reassort_logins_total", outcome="ok"): 1,
        key("reassort_vote_codes_total", outcome="refused"): 1,
        key("reassort_vote_codes_total", outcome="accepted"): 1,
        reassorts("defi", "wrong"): 1,
        reassorts("defi", "sent"): 1,
        reassorts("defi", "send_failed"): 1,
        links("email", "sent"): 1,
        links("sms", "send_failed"): 1,
        key("reassort_link_opens_total", outcome="valid"): 1,
        key("reassort_link_opens_total", outcome="invalid"): 1,
        key("reassort_regenerations_total", outcome="regenerated"): 1,
        # The link to the personal address, then the notice to the address of record.
        key("reassort_deliveries_total", channel="email", provider="outbox", domain="gmail.com",
            outcome="accepted"): 1,
        key("reassort_deliveries_total", channel="email", provider="outbox", domain="other", outcome="accepted"): 1,
        # The gateway answered 500 twice (one retry): one message refused.
        key("reassort_deliveries_total", channel="sms", provider="http", domain="fr", outcome="failed"): 1,
        key("reassort_delivery_duration_seconds_count", channel="email", provider="outbox"): 2,
        key("reassort_delivery_duration_seconds_count", channel="sms", provider="http"): 1,
    }


def test_request_latency_is_counted_per_route_never_per_path(client):
    before = snapshot()
    client.get("/reassort/lien/WzEsMF0.aBcDeFgHiJkLmN.OpQrStUvWxYz0123456789")
    client.get("/jeanne.perso@exemple.org")
    change = moved(before, snapshot(), ignore=("reassort_audit", "reassort_link_opens"))
    assert change == {
        key("reassort_http_requests_total", endpoint="reassort.open_link", method="GET", status="400"): 1,
        key("reassort_http_request_duration_seconds_count", endpoint="reassort.open_link", method="GET"): 1,
        key("reassort_http_requests_total", endpoint="unmatched", method="GET", status="404"): 1,
        key("reassort_http_request_duration_seconds_count", endpoint="unmatched", method="GET"): 1,
    }


def test_shed_counts_by_reason():
    before = snapshot()
    metrics.shed("overload")
    metrics.shed("une raison inventée")
    assert moved(before, snapshot()) == {key("reassort_shed_total", reason="overload"): 1,
                                         key("reassort_shed_total", reason="other"): 1}


# -- the endpoint ------------------------------------------------------------------------------

def scrape(client, token=TOKEN, **headers):
    return client.get("/metrics", headers={"Authorization": f"Bearer {token}", "Accept": OPENMETRICS, **headers})


def test_metrics_endpoint_serves_openmetrics_with_the_token(client):
    response = scrape(client)
    assert response.status_code == 200
    assert response.content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {"reassort_logins", "reassort_deliveries", "reassort_http_request_duration_seconds"} <= names


@pytest.mark.parametrize("token", ["", "mauvais", TOKEN + "x", TOKEN[:-1]])
def test_metrics_endpoint_refuses_a_missing_or_wrong_token(client, token):
    response = scrape(client, token=token)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert b"reassort_" not in response.data


def test_metrics_endpoint_does_not_exist_through_the_proxy(client):
    response = scrape(client, **{"X-Forwarded-For": "203.0.113.7"})
    assert response.status_code == 404
    assert b"reassort_" not in response.data


def test_metrics_endpoint_does_not_exist_without_a_token_setting(settings):
    from app import create_app
    settings["METRICS_TOKEN"] = ""
    client = create_app(settings).test_client()
    assert scrape(client).status_code == 404


def test_production_refuses_a_short_metrics_token():
    problems = config.unsafe_settings({**config.load({"ENV": "development"}), "METRICS_TOKEN": "court"})
    assert any(p.startswith("METRICS_TOKEN") for p in problems)
    problems = config.unsafe_settings({**config.load({"ENV": "development"}), "METRICS_TOKEN": TOKEN})
    assert not any(p.startswith("METRICS_TOKEN") for p in problems)


def test_nginx_sample_never_passes_the_metrics_on():
    from pathlib import Path
    conf = (Path(__file__).resolve().parent.parent / "deploy" / "nginx-reassort.conf").read_text(encoding="utf-8")
    tls = conf.split("listen 443", 1)[1]
    block = re.search(r"location = /metrics \{(.*?)\}", tls, flags=re.S)
    assert block and block.group(1).split() == ["return", "404;"]
