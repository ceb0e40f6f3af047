"""Gunicorn settings for Réassort behind nginx: ``gunicorn -c gunicorn.conf.py wsgi:app``.

Read from the environment (the same file systemd loads for the app, see
``deploy/reassort.env.example``), typed and checked by the table of ``config.py``
(the settings marked ``server=True``):

- ``REASSORT_BIND``: address to listen on (default ``127.0.0.1:8000``, nginx on the same VM);
- ``REASSORT_WORKERS``: worker processes (default 2 × cores + 1);
- ``REASSORT_WORKER_CLASS``: ``gthread`` (default) or ``sync``; ``REASSORT_THREADS``: threads per
  gthread worker (default 5), see below;
- ``REASSORT_WORKER_TIMEOUT``: seconds a silent worker lives before it is killed (default 30);
- ``REASSORT_FORWARDED_ALLOW_IPS``: proxies whose ``X-Forwarded-Proto`` is believed
  (default ``127.0.0.1``); the client address itself comes from ProxyFix (``PROXY_COUNT``);
- ``REASSORT_ACCESS_LOG``: ``-`` (stdout) or a file for gunicorn's own access log.  Off by
  default: the app already writes one JSON line per request with its request id and a
  keyed IP hash (``reassort.web.request_log``); this one, when on, is JSON too, without
  query string, address or user agent, tokens masked.

- ``REASSORT_METRICS_DIR``: the folder where every worker writes its metric counts
  (prometheus_client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``), emptied when
  the server starts; by default a private temporary folder, removed when it stops.
  ``/metrics`` adds up the files of every worker, dead ones included.

Every line gunicorn writes is JSON (``request_log.JsonFormatter``); a worker killed
by the timeout writes one more, with the request id and route it was serving
(``worker_abort``).  nginx gives up first (``proxy_read_timeout`` 25 s in
``deploy/nginx-reassort-proxy.conf``, under the 30 s here) and shows its French 504 page.
"""

import importlib.util
import multiprocessing
import os
import shutil
import tempfile

from gunicorn.glogging import Logger

from reassort.settings import ConfigurationRefused

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _config_table():
    # config.py sits beside this file; gunicorn reads this file before it puts
    # its working directory on the import path, so it is loaded by its path.
    spec = importlib.util.spec_from_file_location("config", os.path.join(os.path.dirname(__file__), "config.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


try:
    _settings = _config_table().server_settings()
except ConfigurationRefused as refused:
    raise SystemExit(refused.format_message()) from None



def _metrics_dir(configured: str) -> tuple[str, bool]:
    """The folder of the workers' metric files, and whether it is a temporary one of ours."""
    current = os.environ.get(MULTIPROC_ENV)
    if current and (not configured or current == configured):
        return current, False  # this file read again by the running master (reload): same folder
    if configured:
        os.makedirs(configured, mode=0o700, exist_ok=True)
        return configured, False
    return tempfile.mkdtemp(prefix="reassort-metrics-"), True


_metrics_path, _metrics_path_is_ours = _metrics_dir(_settings["METRICS_DIR"])
# prometheus_client chooses its multiprocess mode when it is first imported: before the
# request log (which imports it) and before the app is loaded.
os.environ[MULTIPROC_ENV] = _metrics_path

from reassort.web import request_log  # noqa: E402  (after PROMETHEUS_MULTIPROC_DIR, see above)

bind = _settings["BIND"]
# Threaded workers (gunicorn's gthread, noting when each request was queued: reassort.web.gthread).
# A sync worker waiting on a slow SMTP relay or SMS gateway serves nobody meanwhile: with 5 of
# them, five voters asking for a link took the whole portal down (issue 15).  Threads wait on I/O
# without holding the others; bcrypt and hashlib release the GIL, so a worker's bcrypt check
# (≈ 240 ms of CPU) does not stop its other threads from serving /vote (≈ 5 ms).  What a thread may
# wait on is bounded: each send has a total deadline (SMTP_TIMEOUT, SMS_HTTP_TIMEOUT), at most
# DELIVERY_IN_FLIGHT sends per channel and BCRYPT_ADMISSION bcrypt checks run at once in a
# worker, and the bcrypt POSTs waiting for a place are few (shed at once beyond half of
# SHED_AFTER_SECONDS of expected wait), so threads are left for the cheap pages
# (docs/deploy.md § the rush).  Figures: docs/benchmarks.md (rush).
# REASSORT_WORKER_CLASS=sync brings back one request per process (and gunicorn's worker timeout
# per request: a gthread worker stays alive while one of its threads is stuck; what bounds a
# request there is the deadline of each send, the database's lock_timeout and nginx's 25 s).
worker_class = "reassort.web.gthread.Worker" if _settings["WORKER_CLASS"] == "gthread" else "sync"
workers = _settings["WORKERS"] or 2 * multiprocessing.cpu_count() + 1
# (gunicorn would turn a sync worker with threads > 1 into a plain gthread one.)
threads = _settings["THREADS"] if _settings["WORKER_CLASS"] == "gthread" else 1
# A gthread worker takes a connection only when one of its threads is free: the others wait in
# the listening socket's queue, for whichever worker frees a thread first.  gunicorn's default
# (1,000 connections a worker) let a worker take connections it could not serve, kept behind its
# busy threads (a slow send, a bcrypt check) while another worker had threads idle; under a /vote
# rush the workers held uneven queues: /vote at 5× served 84 % of its capacity with 6 threads, 89 %
# once bounded, 93 % with 5 threads (docs/deploy.md).
worker_connections = threads
timeout = _settings["WORKER_TIMEOUT"]
graceful_timeout = 30
# No keep-alive: nginx opens a connection per request and asks gunicorn to close it
# (deploy/nginx-reassort-proxy.conf), and a connection kept idle would hold a worker's place
# above.  A client that connects and sends nothing for 5 s is closed (gthread's wait for data).
keepalive = 0
# Recycle workers now and then (slow leaks), staggered so they do not restart together.
max_requests = 5000
max_requests_jitter = 500
# Load the app once in the master: an unsafe configuration then stops gunicorn at once
# with its message, instead of workers failing to boot one after the other.
# Code upgrades need a restart (a HUP reuses the loaded code).
preload_app = True
forwarded_allow_ips = _settings["FORWARDED_ALLOW_IPS"]
# Requests bigger than this are refused before reaching the app.
limit_request_line = 4094
limit_request_fields = 50
proc_name = "reassort"
# No runtime control socket (``gunicornc``): workers are managed through systemd only.
control_socket_disable = True



def on_starting(server):
    """Empty the metrics folder once per start (not on reload): counts start from zero."""
    for name in os.listdir(_metrics_path):
        pid = name.rsplit("_", 1)[-1].removesuffix(".db")
        if name.endswith(".db") and pid != str(os.getpid()):
            os.remove(os.path.join(_metrics_path, name))


def child_exit(server, worker):
    """A worker died or was recycled: its counts join the archive of the dead ones (``metrics.worker_died``)."""
    from reassort import metrics

    metrics.worker_died(worker.pid, _metrics_path)


def on_exit(server):
    if _metrics_path_is_ours:
        shutil.rmtree(_metrics_path, ignore_errors=True)


errorlog = "-"
loglevel = _settings["GUNICORN_LOG_LEVEL"]
accesslog = _settings["ACCESS_LOG"] or None


class JsonLogger(Logger):
    """Gunicorn's logger writing JSON lines; the access line never holds a secret."""

    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(request_log.JsonFormatter())

    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        headers = {name.lower(): value for name, value in (resp.headers or [])}
        self.access_log.info("accès", extra={
            "request_id": headers.get("x-request-id", ""),
            "method": environ.get("REQUEST_METHOD"),
            # PATH_INFO only: the query string is left out, tokens in the path masked.
            "path": request_log.redact_path(environ.get("PATH_INFO")),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "pid": os.getpid(),
        })


logger_class = JsonLogger


def worker_abort(worker):
    """A worker killed for silence (``timeout``): one JSON line naming its request id and route."""
    request_log.log_worker_timeout(worker.cfg.timeout)
