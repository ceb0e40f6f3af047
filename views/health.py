"""Probes for the load balancer, systemd and the monitoring: ``/healthz`` (alive) and ``/readyz`` (ready).

- ``/healthz``: the process answers HTTP.  Touches nothing else, so a PostgreSQL or
  Redis blip never makes every VM look dead at once (a liveness failure means
  « restart this process »).  Always 200 ``{"status": "ok"}`` when it answers.
- ``/readyz``: this VM can serve voters — the database answers *and* its schema is
  at the code's head revision (``reassort.storage.schema``), and the rate-limit
  storage answers.  200 ``{"status": "ok"}``; 200 ``{"status": "degraded",
  "degraded": ["ratelimit_storage"]}`` when Redis is away and the limits are
  counted in memory meanwhile (``reassort.web.rate_fallback``: voters are still
  served); 503 ``{"status": "error", "failed": [...]}`` naming ``database``,
  ``schema`` or ``ratelimit_storage`` (the last only when the memory fallback is off).

Nothing else in the answers: no version, no host, no error text (those go to the log).
"""

import logging

from flask import Blueprint, jsonify
from sqlalchemy.exc import SQLAlchemyError

from reassort.storage import schema
from reassort.web import rate_fallback
from reassort.web.extensions import db, limiter

bp = Blueprint("health", __name__)
log = logging.getLogger("reassort.health")


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/healthz")
@limiter.exempt
def healthz():
    return _no_store(jsonify(status="ok"))


def _database_problem() -> str | None:
    """``database``, ``schema`` or ``None``."""
    try:
        with db.engine.connect() as connection:
            problem = schema.problem(connection)
    except SQLAlchemyError as exc:
        log.warning("base de données injoignable : %s", type(exc).__name__)
        return "database"
    if problem:
        log.warning("base de données pas prête : %s", problem)
        return "schema"
    return None


def _limiter_storage_ok() -> bool:
    # ``check`` pings the storage (Redis in production) and says False when it cannot.
    if limiter.storage.check():
        return True
    log.warning("stockage des limites de débit injoignable")
    return False


@bp.get("/readyz")
@limiter.exempt
def readyz():
    failed, degraded = [], []
    problem = _database_problem()
    if problem:
        failed.append(problem)
    if not _limiter_storage_ok():
        (degraded if rate_fallback.enabled() else failed).append("ratelimit_storage")
    if failed:
        response = jsonify(status="error", failed=failed)
        response.status_code = 503
    elif degraded:
        response = jsonify(status="degraded", degraded=degraded)
    else:
        response = jsonify(status="ok")
    return _no_store(response)
