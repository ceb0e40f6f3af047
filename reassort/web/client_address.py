"""The client's address, as ProxyFix left it in ``request.remote_addr``, and its keyed hash.

The hash (HMAC under the pepper, 16 hex characters) is what the audit trail and
the request log keep: computed once per request here, read by the procedures
through ``reassort.runtime.client_hash()``.
"""

from __future__ import annotations

from flask import Flask, g, request

from reassort import runtime
from reassort.rules.hashing import digest


def client_ip() -> str:
    """Address used for per-IP limits and the keyed IP hash of the audit trail."""
    return request.remote_addr or "unknown"


def init_app(app: Flask) -> None:
    @app.before_request
    def _hash_client():
        g.client_hash = digest(runtime.setting("HASH_PEPPER"), "ip", client_ip())[:16]
