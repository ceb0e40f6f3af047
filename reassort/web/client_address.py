"""The client's address, as ProxyFix left it in ``request.remote_addr``, and its keyed hash.

Per-IP limits key on an IPv4 address, or on the /64 network of an IPv6 one
(SEC-43): one IPv6 client holds a whole /64 and could otherwise take a fresh
budget for every request.  The hash (HMAC under the pepper, 16 hex characters)
of that same key is what the audit trail and the request log keep: computed once
per request here, read by the procedures through ``reassort.runtime.client_hash()``.
"""

from __future__ import annotations

import ipaddress

from flask import Flask, g, request

from reassort import runtime
from reassort.rules.hashing import digest

IPV6_PREFIX = 64


def rate_key(address: str | None) -> str:
    """The per-IP key of ``address``: an IPv4 address itself, an IPv6 one's /64 network."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])  # a zone id (fe80::1%eth0) is dropped
    except ValueError:
        return address  # not an address (a test client, a unix socket): as it is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:192.0.2.1 is the IPv4 client 192.0.2.1
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


def client_ip() -> str:
    """Key used for per-IP limits and the keyed IP hash of the audit trail (IPv6: its /64)."""
    if "client_key" not in g:
        g.client_key = rate_key(request.remote_addr)
    return g.client_key


def init_app(app: Flask) -> None:
    @app.before_request
    def _hash_client():
        g.client_hash = digest(runtime.setting("HASH_PEPPER"), "ip", client_ip())[:16]
