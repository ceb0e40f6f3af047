"""SEC-36 (and SEC-18): the security headers on every route of the URL map, whatever the answer.

The routes are read from ``app.url_map``, not listed by hand: a new route, or a
header dropped under one prefix (``/reassort/*``), fails here.  The app runs with
FranceConnect and its stand-in mounted so that their routes are in the map too.
"""

import pytest

from tests import fc_fixtures

standin, skew, fc_settings = fc_fixtures.standin, fc_fixtures.skew, fc_fixtures.fc_settings

ONE_YEAR = 31536000
CSP_PARTS = ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'")
# A value for each URL argument: enough to reach the view (a bad token gets its own page).
ARGUMENTS = {"filename": "css/reassort.css", "token": "pas-un-jeton", "challenge_id": "0"}
NOT_A_ROUTE = "/nexiste-pas"


def check_headers(response, where: str) -> None:
    h = response.headers
    hsts = h.get("Strict-Transport-Security", "")
    assert "max-age=" in hsts, f"HSTS absent on {where}"
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= ONE_YEAR, f"HSTS too short on {where}"
    csp = h.get("Content-Security-Policy", "")
    for part in CSP_PARTS:
        assert part in csp, f"CSP without {part} on {where}"
    assert "unsafe-inline" not in csp, where
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("Referrer-Policy") == "no-referrer", where
    assert h.get("X-Frame-Options") == "DENY", where


@pytest.fixture
def every_route(fc_settings):
    fc_settings["FRANCECONNECT_STANDIN"] = True
    return fc_settings


@pytest.mark.parametrize("logged", [False, True], ids=["anonymous", "logged-in"])
def test_sec36_security_headers_on_every_route(every_route, request, logged):
    client = request.getfixturevalue("logged_in")[0] if logged else request.getfixturevalue("client")
    rules = list(client.application.url_map.iter_rules())
    tried = set()
    for rule in rules:
        path = rule.build({name: ARGUMENTS[name] for name in rule.arguments})[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            with client.open(path, method=method) as response:  # closed: a static file is a file
                where = f"{method} {path} ({response.status_code})"
                assert response.status_code < 500, where
                check_headers(response, where)
            tried.add(rule.endpoint)
    assert tried == {rule.endpoint for rule in rules}
    assert any(rule.rule.startswith("/reassort/") for rule in rules)
    check_headers(client.get(NOT_A_ROUTE), NOT_A_ROUTE)
