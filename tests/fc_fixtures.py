"""FranceConnect test helpers: the stand-in served on loopback and a browser that drives it.

The stand-in shares the app's FakeClock (shifted by ``skew`` when a test wants
the provider's clock off), so nothing ever sleeps.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from reassort.adapters.franceconnect.client import CALLBACK_PATH, LOGOUT_RETURN_PATH
from reassort.adapters.franceconnect.standin import StandinServer, create_standin_app

PUBLIC_URL = "https://vote.example.fr"  # as in conftest's settings
CLIENT_ID = "reassort-test-client"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"
START = "/reassort/franceconnect"


@pytest.fixture
def skew():
    """Seconds added to the stand-in's clock (``skew["s"] = -90``: the provider lags)."""
    return {"s": 0.0}


@pytest.fixture
def standin(clock, skew):
    """The stand-in as its own app on 127.0.0.1; ``standin.faults``, ``standin.provider`` steer it."""
    app = create_standin_app(CLIENT_ID, CLIENT_SECRET, [PUBLIC_URL + CALLBACK_PATH],
                             [PUBLIC_URL + LOGOUT_RETURN_PATH], clock=lambda: clock() + skew["s"])
    with StandinServer(app):
        yield app


@pytest.fixture
def fc_settings(settings, standin):
    """Point the app at the loopback stand-in (must run before ``app``)."""
    settings.update(FRANCECONNECT_ISSUER=standin.provider.issuer, FRANCECONNECT_CLIENT_ID=CLIENT_ID,
                    FRANCECONNECT_CLIENT_SECRET=CLIENT_SECRET)
    return settings


def consent(authorize_url: str, identity: str = "angela", cancel: bool = False) -> str:
    """Play the person at the stand-in's consent page over HTTP; return where it sends the browser."""
    with requests.Session() as browser:
        page = browser.get(authorize_url, timeout=5)
        assert page.status_code == 200, page.text[:300]
        request_id = re.search(r'name="request_id" value="([^"]+)"', page.text).group(1)
        action = urlsplit(authorize_url)._replace(query="").geturl()
        back = browser.post(action, data={"request_id": request_id, "identity": identity,
                                          "action": "cancel" if cancel else "consent"},
                            allow_redirects=False, timeout=5)
    assert back.status_code == 303, back.text[:300]
    return back.headers["Location"]


def local_path(url: str) -> str:
    """Path and query of a URL on PUBLIC_URL, for the Flask test client."""
    assert url.startswith(PUBLIC_URL + "/"), url
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def start(client) -> str:
    """GET the FranceConnect button; return the provider's authorize URL."""
    response = client.get(START)
    assert response.status_code == 303, response.data[:300]
    return response.headers["Location"]


def through_franceconnect(client, identity: str = "angela", cancel: bool = False):
    """The whole round trip: button, consent at the stand-in, callback; returns the callback's response
    (or, after a match or a mismatch, the result page it redirects to)."""
    from tests.flows import follow_result

    back = consent(start(client), identity, cancel)
    return follow_result(client, client.get(local_path(back)))


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
