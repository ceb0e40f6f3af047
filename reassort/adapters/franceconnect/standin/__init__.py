"""A local FranceConnect v2 stand-in for the demo and the tests (never in production).

Inside the app (``FRANCECONNECT_STANDIN=true``) ``views.bp`` serves it at
``/fc-standin/api/v2`` so the demo clicks through offline.  For the tests,
``create_standin_app`` builds it as its own small Flask app and ``StandinServer``
serves that on 127.0.0.1 in a thread, so the client talks real HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Self

from flask import Flask
from werkzeug.serving import make_server

from reassort.adapters.franceconnect.standin.provider import Faults, Provider, RegisteredClient


class StandinApp(Flask):
    """The stand-in's own app; ``provider`` and ``faults`` steer it from the tests."""

    provider: Provider
    faults: Faults


def create_standin_app(client_id: str, client_secret: str, redirect_uris: Iterable[str],
                       post_logout_redirect_uris: Iterable[str] = (), issuer: str = "",
                       clock: Callable[[], float] = time.time) -> StandinApp:
    """The stand-in as its own app at ``/api/v2``; ``app.provider`` and ``app.faults`` steer it."""
    from reassort.adapters.franceconnect.standin import views

    app = StandinApp(__name__)
    provider = Provider(issuer, [RegisteredClient(client_id, client_secret, tuple(redirect_uris),
                                                  tuple(post_logout_redirect_uris))], now=clock)
    app.extensions[views.EXTENSION] = provider
    app.register_blueprint(views.bp, url_prefix="/api/v2")
    app.provider = provider
    app.faults = provider.faults
    return app


class StandinServer:
    """Serve a stand-in app on loopback in a thread; its issuer is set from the port it got."""

    def __init__(self, app: StandinApp, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.server = make_server(host, port, app, threaded=True)
        self.issuer = f"http://{host}:{self.server.server_port}/api/v2"
        app.provider.issuer = self.issuer
        # A short poll so that stopping the server (after every test) is quick.
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fc-standin", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
