"""``/healthz`` for the load balancer and monitoring: database and limiter storage.

200 ``{"status": "ok"}`` when both answer; 503 with the names of the parts that
failed otherwise.  Nothing else: no version, no host, no error text.
"""

import logging

from flask import Blueprint, jsonify

from reassort.web.extensions import db, limiter

bp = Blueprint("health", __name__)
log = logging.getLogger("reassort.health")


def _database_ok() -> bool:
    problem = db.ping()
    if problem:
        log.warning("base de données injoignable : %s", problem)
    return not problem


def _limiter_storage_ok() -> bool:
    # ``check`` pings the storage (Redis in production) and says False when it cannot.
    if limiter.storage.check():
        return True
    log.warning("stockage des limites de débit injoignable")
    return False


@bp.get("/healthz")
@limiter.exempt
def healthz():
    failed = [name for name, ok in (("database", _database_ok()), ("ratelimit_storage", _limiter_storage_ok()))
              if not ok]
    if failed:
        response = jsonify(status="error", failed=failed)
        response.status_code = 503
    else:
        response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response
