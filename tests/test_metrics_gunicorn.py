"""Metrics through a real gunicorn with 2 workers: every worker's counts add up at /metrics.

A scripted journey over HTTP (login, vote code, question défi, links by e-mail and by
SMS to a real gateway that fails, regeneration, a dead link), then one scrape: each
counter holds exactly what happened, whichever worker served each request.  A worker
killed afterwards takes none of its counts with it (``child_exit`` in gunicorn.conf.py).
"""

from __future__ import annotations

import collections
import json
import os
import pathlib
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from reassort.adapters.messaging.outbox import read_all
from tests.conftest import ANSWER, CODE, NUMEN, PASSWORD
from tests.services import Gunicorn, clean_environ, free_port

pytestmark = pytest.mark.slow

TOKEN = "jeton-de-supervision-gunicorn-0123456789"
TIMEOUT = 20
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


@pytest.fixture
def server(settings, app, tmp_path, gateway):
    """A development gunicorn (2 workers) on the test's SQLite file, outbox e-mails, the SMS gateway."""
    port = free_port()
    environ = {
        "ENV": "development", "SECRET_KEY": settings["SECRET_KEY"], "HASH_PEPPER": settings["HASH_PEPPER"],
        "DATABASE_URL": settings["DATABASE_URL"], "MAIL_BACKEND": "outbox", "OUTBOX_DIR": settings["OUTBOX_DIR"],
        "SMS_BACKEND": "http", "SMS_HTTP_URL": gateway.url, "SMS_HTTP_TIMEOUT": 1,
        "CAPTCHA_ENABLED": "false", "BCRYPT_ROUNDS": 4, "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "METRICS_TOKEN": TOKEN, "METRICS_DIR": str(tmp_path / "metrics"), "WORKERS": 2, "ACCESS_LOG": "-",
    }
    with Gunicorn(tmp_path, clean_environ(**{f"REASSORT_{k}": v for k, v in environ.items()}), port) as running:
        running.wait_ready()
        yield running


class Browser:
    """One voter's browser; counts every request it makes by route name and status."""

    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()
        self.made: collections.Counter = collections.Counter()

    def call(self, method: str, path: str, endpoint: str, **kwargs) -> requests.Response:
        response = self.session.request(method, self.base + path, allow_redirects=False, timeout=TIMEOUT, **kwargs)
        self.made[(endpoint, method, str(response.status_code))] += 1
        return response

    def form(self, path: str, endpoint: str, data: dict) -> requests.Response:
        page = self.call("GET", path, endpoint)
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
        return self.call("POST", path, endpoint, data={**data, "csrf_token": csrf})

    def close(self):
        self.session.close()


def scrape(base: str) -> dict[tuple[str, tuple], float]:
    response = requests.get(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}", "Accept": OPENMETRICS},
                            timeout=TIMEOUT)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name.startswith("reassort_") and not sample.name.endswith(("_sum", "_bucket")):
                found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def key(name: str, **labels: str) -> tuple[str, tuple]:
    return name, tuple(sorted(labels.items()))


def journey(browser: Browser, email: str, outbox_dir: str, gateway) -> None:
    login = {"email": email, "password": "pas le bon mot de passe"}
    assert browser.form("/connexion", "auth.login", login).status_code == 200
    assert browser.form("/connexion", "auth.login", {**login, "password": PASSWORD}).status_code == 302
    assert browser.form("/vote", "portal.vote", {"code": "AAAA-BBBB-CCCC"}).status_code == 200
    assert browser.form("/vote", "portal.vote", {"code": CODE}).status_code == 302
    defi = {"answer": ANSWER, "identifier": NUMEN}
    assert "Lien envoyé" not in browser.form("/reassort/question-defi", "reassort.challenge",
                                             {**defi, "answer": "Camille", "channel": "email",
                                              "personal_email": "jeanne.perso@gmail.com"}).text
    sent = browser.form("/reassort/question-defi", "reassort.challenge",
                        {**defi, "channel": "email", "personal_email": "jeanne.perso@gmail.com"})
    assert sent.status_code == 303  # post/redirect/get: the result page has a URL of its own
    assert "Lien envoyé" in browser.call("GET", "/reassort/lien-envoye", "reassort.sent").text
    gateway.status = 500
    assert browser.form("/reassort/question-defi", "reassort.challenge",
                        {**defi, "channel": "sms", "phone": "06 12 34 56 78"}).status_code == 503
    link = re.search(r"http://127\.0\.0\.1:\d+(/reassort/lien/\S+)", read_all(outbox_dir)[-1]["body"]).group(1)
    assert browser.call("GET", link, "reassort.open_link").status_code == 303
    assert "Votre nouveau code" in browser.form("/reassort/regenerer", "reassort.regenerate", {}).text
    assert browser.call("GET", link, "reassort.open_link").status_code == 400


def test_metrics_of_a_journey_through_gunicorn_with_two_workers(server, make_voter, settings, gateway, tmp_path):
    voter_id = make_voter()
    assert scrape(server.base).get(key("reassort_logins_total", outcome="ok")) is None  # a fresh folder
    browser = Browser(server.base)
    try:
        journey(browser, f"agent{voter_id}@education.gouv.fr", settings["OUTBOX_DIR"], gateway)
    finally:
        browser.close()
    found = scrape(server.base)
    expected_events = ["login_failed", "login_ok", "code_failed", "code_ok", "challenge_failed", "link_requested",
                       "link_send_failed", "link_opened", "code_regenerated", "link_invalid"]
    derived = {k: v for k, v in found.items() if not k[0].startswith("reassort_http_")}
    assert derived == {
        **{key("reassort_audit_events_total", event=e): 1 for e in expected_events},
        key("reassort_logins_total", outcome="refused"): 1,
        key("reassort_logins_total", outcome="ok"): 1,
        key("reassort_vote_codes_total", outcome="refused"): 1,
        key("reassort_vote_codes_total", outcome="accepted"): 1,
        key("reassort_reassort_requests_total", path="defi", outcome="wrong"): 1,
        key("reassort_reassort_requests_total", path="defi", outcome="sent"): 1,
        key("reassort_reassort_requests_total", path="defi", outcome="send_failed"): 1,
        key("reassort_links_total", channel="email", outcome="sent"): 1,
        key("reassort_links_total", channel="sms", outcome="send_failed"): 1,
        key("reassort_link_opens_total", outcome="valid"): 1,
        key("reassort_link_opens_total", outcome="invalid"): 1,
        key("reassort_regenerations_total", outcome="regenerated"): 1,
        key("reassort_deliveries_total", channel="email", provider="outbox", domain="gmail.com",
            outcome="accepted"): 1,
        key("reassort_deliveries_total", channel="email", provider="outbox", domain="other", outcome="accepted"): 1,
        key("reassort_deliveries_total", channel="sms", provider="http", domain="fr", outcome="failed"): 1,
        key("reassort_delivery_duration_seconds_count", channel="email", provider="outbox"): 2,
        key("reassort_delivery_duration_seconds_count", channel="sms", provider="http"): 1,
    }
    # Every request the browser made, by route and status (the health checks of the start
    # and the scrapes are the server's own business).
    requests_counted = {(dict(k[1])["endpoint"], dict(k[1])["method"], dict(k[1])["status"]): v
                        for k, v in found.items() if k[0] == "reassort_http_requests_total"
                        and dict(k[1])["endpoint"] not in ("health.healthz", "metrics.scrape")}
    assert requests_counted == dict(browser.made)
    latency_counted = {k: v for k, v in found.items() if k[0] == "reassort_http_request_duration_seconds_count"
                       and dict(k[1])["endpoint"] not in ("health.healthz", "metrics.scrape")}
    per_route: collections.Counter = collections.Counter()
    for (endpoint, method, _status), n in browser.made.items():
        per_route[key("reassort_http_request_duration_seconds_count", endpoint=endpoint, method=method)] += n
    assert latency_counted == dict(per_route)
    # Health checks at once, so that both workers surely answered something.
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _: requests.get(server.base + "/healthz", timeout=TIMEOUT).status_code, range(16)))
    assert len(served_by(server)) == 2, "one worker answered every request: the test proves nothing"

    # A worker dies: its counts stay in the sum, and its replacement adds to them.
    first, second = sorted(served_by(server))
    for killed in (first, second):  # the second folds into the archive the first one started
        os.kill(killed, signal.SIGKILL)
        wait_for_replacement(server, killed)
        after = scrape(server.base)
        assert {k: v for k, v in after.items() if not k[0].startswith("reassort_http_")} == derived
    # Its files were folded into the archive of the dead workers: scrapes read a few files, not one per worker ever.
    files = {p.name for p in (tmp_path / "metrics").glob("*.db")}
    assert {"counter_archive.db", "histogram_archive.db"} <= files
    assert not [name for name in files if name.endswith((f"_{first}.db", f"_{second}.db"))]


def served_by(server: Gunicorn) -> set[int]:
    """The workers' pids seen in gunicorn's access log (JSON lines), still alive."""
    pids = {json.loads(line)["pid"] for line in server.stdout().splitlines()
            if line.startswith("{") and '"gunicorn.access"' in line}
    return {pid for pid in pids if os.path.exists(f"/proc/{pid}")}


def wait_for_replacement(server: Gunicorn, killed: int, timeout: float = 30) -> None:
    """Until the master has reaped ``killed`` (its ``child_exit`` ran) and has two workers again.

    Read from /proc (no clock to inject in a real server): a killed worker stays among the
    master's children, a zombie, until the master reaps it.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = server.process.pid
        children = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if len(children) == 2 and str(killed) not in children:
            server.wait_ready()
            return
        time.sleep(0.1)
    pytest.fail("gunicorn n'a pas remplacé le worker tué")
