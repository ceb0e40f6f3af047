"""This app's FranceConnect client: built once from the settings, endpoints and keys cached across requests."""

from __future__ import annotations

import requests
from flask import current_app

from reassort import runtime
from reassort.adapters.franceconnect.client import FranceConnectClient, Settings

EXTENSION = "reassort.franceconnect_client"


def client() -> FranceConnectClient:
    """The relying party of this app; with the in-app stand-in, its calls stay in the process."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    fc = app.extensions.get(EXTENSION)
    if fc is None:
        settings = Settings.from_config(app.config)
        http = requests.Session()
        if settings.in_app_standin:
            from reassort.adapters.franceconnect.standin.transport import WSGIAdapter
            http.mount(settings.issuer + "/", WSGIAdapter(app))
        fc = app.extensions[EXTENSION] = FranceConnectClient(settings, http, now=runtime.now)
    return fc
