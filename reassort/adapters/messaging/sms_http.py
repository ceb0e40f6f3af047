"""Production SMS backend: a generic JSON gateway over HTTP(S).

POST ``SMS_HTTP_URL`` with ``{"to": "+33…", "sender": SMS_SENDER, "text": …}`` and
the ``Authorization`` header ``SMS_HTTP_AUTH``; any 2xx is accepted.  One retry
on a 5xx answer, if time is left; a 4xx fails at once (a retry could send twice).

``SMS_HTTP_TIMEOUT`` is the **total** deadline of a send, retry included, from the
connect to the last byte of the answer (``base.Deadline``): a gateway that hangs
or answers one byte a second cannot hold a worker longer.  When the deadline
strikes after the request has gone out, the gateway may still send the SMS: the
error says so (``maybe_delivered``).  Plain ``http.client`` over a socket of our own,
so that the deadline can cut it; the certificates trusted and the proxy used
(``https_proxy``, ``no_proxy``) are those requests would use.

``probe`` is ``check-config --connect``'s visit, which never sends: a GET of
``SMS_HTTP_CHECK_URL`` with the credentials when the gateway has such an address
(balance, status), else a TCP connection and TLS handshake to the sending host.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.request
from urllib.parse import urlsplit

import requests

from reassort.adapters.messaging.base import Deadline, DeliveryError


def send(message, config) -> None:
    headers = {"Content-Type": "application/json"}
    if config.get("SMS_HTTP_AUTH"):
        headers["Authorization"] = config["SMS_HTTP_AUTH"]
    body = json.dumps({"to": message.to, "sender": config["SMS_SENDER"], "text": message.body}).encode()
    deadline = Deadline(float(config["SMS_HTTP_TIMEOUT"]))
    for attempt in (1, 2):
        status = _post(config["SMS_HTTP_URL"], body, headers, deadline)
        if status < 300:
            return
        if status < 500 or attempt == 2:
            raise DeliveryError(f"passerelle SMS : HTTP {status}")


def _post(url: str, body: bytes, headers: dict, deadline: Deadline) -> int:
    """One POST within what is left of ``deadline``: the answer's status (its body is read and dropped)."""
    connection = _connection(url, deadline)
    sent = False
    try:
        with deadline.watch(lambda: connection.sock):
            try:
                connection.connect()
                parts = urlsplit(url)
                path = (parts.path or "/") + ("?" + parts.query if parts.query else "")
                connection.request("POST", path, body=body, headers=headers)
                sent = True
                response = connection.getresponse()
                response.read()
                return response.status
            except (OSError, http.client.HTTPException) as exc:
                late = deadline.expired or isinstance(exc, TimeoutError)
                what = type(exc).__name__ + (" (délai dépassé)" if late else "")
                raise DeliveryError(f"passerelle SMS : {what}", maybe_delivered=sent) from None
    finally:
        connection.close()


def _connection(url: str, deadline: Deadline) -> http.client.HTTPConnection:
    """A connection to the gateway (through the proxy requests would use), not yet open."""
    parts = urlsplit(url)
    secure = parts.scheme == "https"
    host, port = parts.hostname or "", parts.port or (443 if secure else 80)
    proxy = None if urllib.request.proxy_bypass(host) else urllib.request.getproxies().get(parts.scheme)
    target_host, target_port = host, port
    if proxy:
        p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
        target_host, target_port = p.hostname or "", p.port or 8080
    try:
        timeout = deadline.left()
    except TimeoutError:
        raise DeliveryError("passerelle SMS : délai dépassé") from None
    connection: http.client.HTTPConnection
    if secure:
        context = ssl.create_default_context(cafile=_requests_ca_bundle())
        connection = http.client.HTTPSConnection(target_host, target_port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(target_host, target_port, timeout=timeout)
    if proxy:
        connection.set_tunnel(host, port)
    return connection


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
