"""The client address, as ProxyFix left it in ``request.remote_addr``."""

from flask import request


def client_ip() -> str:
    """Address used for per-IP limits and the keyed IP hash of the audit trail."""
    return request.remote_addr or "unknown"
