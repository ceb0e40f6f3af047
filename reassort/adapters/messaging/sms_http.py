"""Production SMS backend: a generic JSON gateway over HTTP(S).

POST ``SMS_HTTP_URL`` with ``{"to": "+33…", "sender": SMS_SENDER, "text": …}`` and
the ``Authorization`` header ``SMS_HTTP_AUTH``; any 2xx is accepted.  One retry
on a 5xx answer; a timeout or a 4xx fails at once (a retry could send twice).
"""

from __future__ import annotations

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
