"""Gunicorn settings for Réassort behind nginx: ``gunicorn -c gunicorn.conf.py app:app``.

Read from the environment (the same file systemd loads for the app, see
``deploy/reassort.env.example``):

- ``REASSORT_BIND``: address to listen on (default ``127.0.0.1:8000``, nginx on the same VM);
- ``REASSORT_WORKERS``: worker processes (default 2 × cores + 1);
- ``REASSORT_WORKER_TIMEOUT``: seconds a silent worker lives before it is killed (default 30);
- ``REASSORT_FORWARDED_ALLOW_IPS``: proxies whose ``X-Forwarded-Proto`` is believed
  (default ``127.0.0.1``); the client address itself comes from ProxyFix (``PROXY_COUNT``);
- ``REASSORT_ACCESS_LOG``: ``-`` (stdout) or a file for gunicorn's own access log.  Off by
  default: the app already writes one JSON line per request with its request id and a
  keyed IP hash (``logging_setup``); this one, when on, is JSON too, without query
  string, address or user agent, tokens masked.

Every line gunicorn writes is JSON (``logging_setup.JsonFormatter``).
"""

import json
import multiprocessing
import os
import sys

from gunicorn.glogging import Logger

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import logging_setup  # noqa: E402


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(json.loads(value)) if value else default


bind = os.environ.get("REASSORT_BIND", "127.0.0.1:8000")
# Sync workers: each request is short and CPU-bound (bcrypt), no long polling.
worker_class = "sync"
workers = _env_int("REASSORT_WORKERS", 2 * multiprocessing.cpu_count() + 1)
timeout = _env_int("REASSORT_WORKER_TIMEOUT", 30)
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (slow leaks), staggered so they do not restart together.
max_requests = 5000
max_requests_jitter = 500
# Load the app once in the master: an unsafe configuration then stops gunicorn at once
# with its message, instead of workers failing to boot one after the other.
# Code upgrades need a restart (a HUP reuses the loaded code).
preload_app = True
forwarded_allow_ips = os.environ.get("REASSORT_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Requests bigger than this are refused before reaching the app.
limit_request_line = 4094
limit_request_fields = 50
proc_name = "reassort"
# No runtime control socket (``gunicornc``): workers are managed through systemd only.
control_socket_disable = True

errorlog = "-"
loglevel = os.environ.get("REASSORT_GUNICORN_LOG_LEVEL", "info")
accesslog = os.environ.get("REASSORT_ACCESS_LOG") or None


class JsonLogger(Logger):
    """Gunicorn's logger writing JSON lines; the access line never holds a secret."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(logging_setup.JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = {name.lower(): value for name, value in (resp.headers or [])}
        self.access_log.info("accès", extra={
            "request_id": headers.get("x-request-id", ""),
            "method": environ.get("REQUEST_METHOD"),
            # PATH_INFO only: the query string is left out, tokens in the path masked.
            "path": logging_setup.redact_path(environ.get("PATH_INFO")),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "pid": os.getpid(),
        })


logger_class = JsonLogger
