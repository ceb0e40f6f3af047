"""A ``requests`` transport that answers from a WSGI app in the same process.

With the stand-in inside the app, the relying party's server-side calls (token,
userinfo, JWKS) would go back to the app over the network: a single-worker
server would deadlock on itself, and ``PUBLIC_URL`` may not even be reachable
from the machine.  Mounted on the client's session for the stand-in's prefix
only, this adapter hands those calls to the app directly.  Development only.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from werkzeug.test import Client


class WSGIAdapter(BaseAdapter):
    def __init__(self, wsgi_app):
        super().__init__()
        self.wsgi_app = wsgi_app

    def send(self, request: requests.PreparedRequest, stream=False, timeout=None, verify=True, cert=None,
             proxies=None) -> requests.Response:
        url = urlsplit(str(request.url))
        answer = Client(self.wsgi_app).open(
            path=url.path, query_string=url.query, method=request.method, base_url=f"{url.scheme}://{url.netloc}",
            headers=dict(request.headers), data=request.body or b"",
            environ_base={"REMOTE_ADDR": "127.0.0.1"})
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.get_data()
        response.encoding = answer.mimetype_params.get("charset", "utf-8")
        response.url = str(request.url)
        response.request = request
        response.reason = answer.status.partition(" ")[2]
        answer.close()
        return response

    def close(self) -> None:
        pass
