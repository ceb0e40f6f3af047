"""Production SMS backend: a generic JSON gateway over HTTP(S).

POST ``SMS_HTTP_URL`` with ``{"to": "+33…", "sender": SMS_SENDER, "text": …}`` and
the ``Authorization`` header ``SMS_HTTP_AUTH``; any 2xx is accepted.  One retry
on a 5xx answer; a timeout or a 4xx fails at once (a retry could send twice).

``probe`` is ``check-config --connect``'s visit, which never sends: a GET of
``SMS_HTTP_CHECK_URL`` with the credentials when the gateway has such an address
(balance, status), else a TCP connection and TLS handshake to the sending host.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

import requests

from reassort.adapters.messaging.base import DeliveryError


def send(message, config) -> None:
    headers = {"Content-Type": "application/json"}
    if config.get("SMS_HTTP_AUTH"):
        headers["Authorization"] = config["SMS_HTTP_AUTH"]
    payload = {"to": message.to, "sender": config["SMS_SENDER"], "text": message.body}
    timeout = float(config["SMS_HTTP_TIMEOUT"])
    for attempt in (1, 2):
        try:
            response = requests.post(config["SMS_HTTP_URL"], json=payload, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise DeliveryError(f"passerelle SMS : {type(exc).__name__}") from None
        if response.status_code < 300:
            return
        if response.status_code < 500 or attempt == 2:
            raise DeliveryError(f"passerelle SMS : HTTP {response.status_code}")


def probe(config) -> str:
    """What could be checked without sending, in French; raises ``DeliveryError`` with the reason."""
    timeout = float(config["SMS_HTTP_TIMEOUT"])
    check_url = config.get("SMS_HTTP_CHECK_URL")
    if check_url:
        headers = {"Authorization": config["SMS_HTTP_AUTH"]} if config.get("SMS_HTTP_AUTH") else {}
        try:
            response = requests.get(check_url, headers=headers, timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryError(f"{type(exc).__name__} sur l'adresse de test") from None
        if response.status_code in (401, 403):
            raise DeliveryError(f"identifiants refusés (HTTP {response.status_code})")
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"adresse de test : HTTP {response.status_code}")
        return f"adresse de test : HTTP {response.status_code}, identifiants acceptés ; aucun SMS envoyé"
    parts = urlsplit(config["SMS_HTTP_URL"])
    secure = parts.scheme == "https"
    host, port = parts.hostname or "", parts.port or (443 if secure else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            if secure:
                with ssl.create_default_context(cafile=_requests_ca_bundle()).wrap_socket(raw, server_hostname=host):
                    pass
    except ssl.SSLError as exc:
        raise DeliveryError(f"TLS refusé : {exc.reason or type(exc).__name__}") from None
    except OSError as exc:
        raise DeliveryError(f"{type(exc).__name__} : {exc.strerror or exc}") from None
    done = "connexion et certificat TLS vérifiés" if secure else "connexion (sans TLS)"
    return (f"{host}:{port} : {done} ; identifiants non vérifiés, aucun SMS envoyé "
            "(SMS_HTTP_CHECK_URL pour un appel à blanc)")


def _requests_ca_bundle() -> str:
    """The certificates ``send`` trusts (requests': its environment variables, else certifi's bundle)."""
    import os

    from requests.utils import DEFAULT_CA_BUNDLE_PATH

    return os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or DEFAULT_CA_BUNDLE_PATH
