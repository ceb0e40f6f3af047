"""``/metrics``: the counters and histograms for Prometheus, for the operators only.

Mounted only when ``METRICS_TOKEN`` is set.  Prometheus scrapes gunicorn directly
(``REASSORT_BIND``, loopback or the operators' network) with ``Authorization:
Bearer <METRICS_TOKEN>``; nginx never passes the path on (``deploy/nginx-reassort.conf``),
and a request that came through a proxy (it carries ``X-Forwarded-For``) gets the
404 page, as if the path did not exist.  A missing or wrong token gets 401.  No
session, no rate limit (a scrape every 15 s), never cached.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, abort, request

from reassort import metrics, runtime
from reassort.web.extensions import csrf, limiter

bp = Blueprint("metrics", __name__)


def _token_ok() -> bool:
    expected = str(runtime.setting("METRICS_TOKEN"))
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                                 expected.encode())


@bp.get("/metrics")
@limiter.exempt
@csrf.exempt
def scrape():
    """The metrics of every worker, in the format Prometheus asks for (OpenMetrics or text)."""
    if "X-Forwarded-For" in request.headers:
        abort(404)  # through the public proxy: this path does not exist there
    if not _token_ok():
        return Response("Jeton manquant ou invalide.\n", 401, {"WWW-Authenticate": 'Bearer realm="metrics"',
                                                                "Cache-Control": "no-store"},
                        content_type="text/plain; charset=utf-8")
    body, content_type = metrics.exposition(request.headers.get("Accept"))
    return Response(body, 200, {"Cache-Control": "no-store"}, content_type=content_type)
