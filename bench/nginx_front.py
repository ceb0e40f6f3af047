"""nginx in front of a bench's gunicorn, with the deploy sample's proxy settings as they ship.

``deploy/nginx-reassort-proxy.conf`` is included unchanged (the headers the app trusts,
``X-Request-Start`` for the shedding, the timeouts shorter than the worker's), and the
site's bound on the requests in flight is copied from ``deploy/nginx-reassort.conf`` (its
``map``, ``limit_conn_zone``, ``limit_conn``, its log level and the French 429 page, kept
open as there) and its upstream (one connection per request, no keep-alive); the rest of the
site is reduced to what a load test needs: plain HTTP on a loopback port (no TLS, no
per-address ``limit_req``: one address sends everything).
The binary: ``REASSORT_TEST_NGINX``, ``nginx`` on ``PATH``, ``/usr/sbin/nginx``, or the copy
``scripts/test`` unpacks under ``.venv/nginx``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time

from bench import procs

SNIPPET = os.path.join(procs.ROOT, "deploy", "nginx-reassort-proxy.conf")
SITE = os.path.join(procs.ROOT, "deploy", "nginx-reassort.conf")
ERRORS = os.path.join(procs.ROOT, "static", "errors") + "/"


def _site() -> str:
    with open(SITE, encoding="utf-8") as fh:
        return fh.read()


def inflight_bound() -> tuple[str, str]:
    """The sample's bound on requests in flight: (http-level lines, the ``limit_conn`` line)."""
    site = _site()
    http = [re.search(r'^map "\$request_method\$uri" \$reassort_inflight_key \{.*?^\}', site, re.M | re.S).group(0),
            re.search(r"^limit_conn_zone .*;$", site, re.M).group(0),
            re.search(r"^limit_conn_status .*;$", site, re.M).group(0),
            re.search(r"^limit_conn_log_level .*;$", site, re.M).group(0)]
    return "\n".join(http), re.search(r"^\s*(limit_conn reassort_inflight \d+;)", site, re.M).group(1)


def upstream(port: int) -> str:
    """The sample's ``upstream reassort_app`` block as it ships, pointed at ``port``."""
    block = re.search(r"^upstream reassort_app \{.*?^\}", _site(), re.M | re.S).group(0)
    return block.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{port};")


def binary() -> str | None:
    for candidate in (os.environ.get("REASSORT_TEST_NGINX"), shutil.which("nginx"), "/usr/sbin/nginx",
                      os.path.join(procs.ROOT, ".venv", "nginx", "usr", "sbin", "nginx")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def version(path: str) -> str:
    try:
        done = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "nginx"
    return (done.stderr or done.stdout).strip().removeprefix("nginx version: ") or "nginx"


class Front:
    """``start()`` → nginx listening on ``address``, proxying to ``upstream_port``; ``stop()``."""

    def __init__(self, path: str, workdir: str, upstream_port: int, log_path: str):
        self.binary, self.prefix, self.log_path = path, os.path.join(workdir, "nginx"), log_path
        self.port = procs.free_port()
        self.address = ("127.0.0.1", self.port)
        self.version = version(path)
        os.makedirs(self.prefix, exist_ok=True)
        bound_http, bound = inflight_bound()
        self.bound = bound
        temp_paths = "\n".join(f"    {kind}_temp_path {self.prefix}/{kind};"
                               for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(os.path.join(self.prefix, "nginx.conf"), "w", encoding="utf-8") as fh:
            fh.write(f"""daemon off;
{'user root;' if os.geteuid() == 0 else ''}
worker_processes 1;
worker_rlimit_nofile 20000;
pid {self.prefix}/nginx.pid;
error_log {log_path} warn;
events {{ worker_connections 9000; }}
http {{
    access_log off;
{temp_paths}
{bound_http}
{upstream(upstream_port)}
    server {{
        listen 127.0.0.1:{self.port} backlog=4096;
        error_page 429 /erreurs/429.html;
        location ^~ /erreurs/ {{
            internal;
            alias {ERRORS};
            open_file_cache max=16 inactive=60s;
            open_file_cache_valid 60s;
            add_header Retry-After "10" always;
        }}
        location / {{
            {bound}
            include {SNIPPET};
            proxy_pass http://reassort_app;
        }}
    }}
}}
""")
        self.process: subprocess.Popen | None = None

    def _command(self, *extra: str) -> list[str]:
        return [self.binary, "-p", self.prefix, "-c", os.path.join(self.prefix, "nginx.conf"), "-e", self.log_path,
                *extra]

    def start(self) -> Front:
        checked = subprocess.run(self._command("-t"), capture_output=True, text=True, timeout=30)
        if checked.returncode != 0:
            raise RuntimeError("nginx -t : " + checked.stderr.strip())
        self.process = subprocess.Popen(self._command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(self.address, timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"nginx s'est arrêté (voir {self.log_path})") from None
                time.sleep(0.05)
        raise RuntimeError("nginx pas prêt en 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
