"""SEC-43: per-IP keys are the IPv4 address, or the IPv6 /64 (one client holds a whole /64)."""

from __future__ import annotations

import pytest

from reassort.web.client_address import rate_key
from tests.conftest import csrf_of


@pytest.mark.parametrize("address, key", [
    ("192.0.2.1", "192.0.2.1"),
    ("192.0.2.2", "192.0.2.2"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2:0:0:0:7", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:192.0.2.1", "192.0.2.1"),              # IPv4 seen through an IPv6 socket
    ("fe80::1%eth0", "fe80::/64"),
    ("", "unknown"),
    (None, "unknown"),
    ("pas-une-adresse", "pas-une-adresse"),
])
def test_sec43_rate_key(address, key):
    assert rate_key(address) == key


def posts_from(app, address: str, n: int) -> list[int]:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_of(client.get("/connexion"))
    return [client.post("/connexion", data={"email": "x@y.fr", "password": "x", "csrf_token": token}).status_code
            for _ in range(n)]


def test_sec43_one_ipv6_64_shares_one_per_ip_budget(settings, request):
    settings["RATELIMIT_PER_IP"] = "3 per minute"
    app = request.getfixturevalue("app")
    statuses = [posts_from(app, f"2001:db8:1:2::{i}", 1)[0] for i in range(1, 6)]
    assert statuses == [200, 200, 200, 429, 429]
    assert posts_from(app, "2001:db8:1:3::1", 1) == [200]  # the next /64 is another client


def test_sec43_ipv4_addresses_keep_their_own_budget(settings, request):
    settings["RATELIMIT_PER_IP"] = "3 per minute"
    app = request.getfixturevalue("app")
    assert posts_from(app, "192.0.2.1", 4) == [200, 200, 200, 429]
    assert posts_from(app, "192.0.2.2", 1) == [200]
