"""nginx and gunicorn agree (issue 17 §3): French pages for what nginx answers itself, nginx gives up first.

The sample (``deploy/nginx-reassort.conf`` and its proxy snippet) is read as it
ships; with an ``nginx`` binary at hand (``PATH``, ``/usr/sbin/nginx`` or
``REASSORT_TEST_NGINX``) a copy of it — only its paths, ports and certificate
changed — passes ``nginx -t`` and is started in front of an upstream that is down,
stuck or in maintenance, and voters get the French 502, 504 and 503 pages.
Without nginx those tests skip (it is not one of the suite's services).
"""

from __future__ import annotations

import html.parser
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.servers import free_port
from tests.services import ROOT
from tests.tls import TestCA

DEPLOY = os.path.join(ROOT, "deploy")
ERRORS = os.path.join(ROOT, "static", "errors")
SITE = os.path.join(DEPLOY, "nginx-reassort.conf")
SNIPPET = os.path.join(DEPLOY, "nginx-reassort-proxy.conf")
TITLES = {429: "Service très sollicité", 502: "Service momentanément indisponible", 503: "Service en maintenance",
          504: "Le service a mis trop de temps à répondre"}


def read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def seconds(directive: str, text: str) -> int:
    return int(re.search(rf"^\s*{directive}\s+(\d+)s;", text, re.MULTILINE).group(1))


def example_worker_timeout() -> int:
    return int(re.search(r"^REASSORT_WORKER_TIMEOUT=(\d+)$", read(os.path.join(DEPLOY, "reassort.env.example")),
                         re.MULTILINE).group(1))


# --- the sample as it ships --------------------------------------------------------------------

def test_nginx_gives_up_before_gunicorn_kills_the_worker():
    snippet = read(SNIPPET)
    for directive in ("proxy_read_timeout", "proxy_send_timeout"):
        assert seconds(directive, snippet) < example_worker_timeout(), directive
    import config
    assert seconds("proxy_read_timeout", snippet) < config.SETTINGS.by_name["WORKER_TIMEOUT"].default


def test_nginx_sample_maps_its_own_errors_to_the_french_pages():
    site = read(SITE)
    for status in (429, 502, 503, 504):
        assert re.search(rf"^\s*error_page {status} /erreurs/{status}\.html;", site, re.MULTILINE), status
        assert os.path.isfile(os.path.join(ERRORS, f"{status}.html"))
    assert "alias /opt/reassort/app/static/errors/;" in site
    assert not re.search(r"^\s*proxy_intercept_errors\s+on", site, re.MULTILINE)  # the app keeps its own pages


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text, self.links, self.lang = [], [], [], None
        self._in_title = False
        self.title = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "title":
            self._in_title = True
        for name in ("href", "src"):
            if name in attrs:
                self.links.append(attrs[name])

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        self.text.append(data)


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_nginx_error_pages_are_french_accessible_and_self_contained(status):
    page = _Page()
    page.feed(read(os.path.join(ERRORS, f"{status}.html")))
    text = " ".join(" ".join(page.text).split())
    assert page.lang == "fr" and page.title.startswith(TITLES[status])
    assert page.tags.count("h1") == 1 and "main" in page.tags and "script" not in page.tags
    assert "Retour à l'accueil" in text and "Gateway" not in text and "nginx" not in text
    # Only what nginx itself serves: the home page, the app's stylesheet, the skip link.
    assert set(page.links) <= {"/", "/static/css/reassort.css", "#contenu", "data:,"}


# --- a real nginx on the sample ------------------------------------------------------------------

def nginx_binary() -> str | None:
    return os.environ.get("REASSORT_TEST_NGINX") or shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


class Nginx:
    """The sample site under a throw-away prefix: loopback ports, a test certificate, the checkout's files."""

    def __init__(self, tmp_path, upstream_port: int, read_timeout: int | None = None):
        self.binary = nginx_binary()
        if self.binary is None:
            pytest.skip("nginx absent (PATH, /usr/sbin/nginx ou REASSORT_TEST_NGINX)")
        self.tmp = tmp_path
        self.port, self.http_port = free_port(), free_port()
        self.maintenance = tmp_path / "maintenance"
        self.ca = TestCA(tmp_path)
        snippet = read(SNIPPET)
        if read_timeout is not None:  # the one change the 504 test makes: not wait 25 s
            snippet = re.sub(r"proxy_read_timeout \d+s;", f"proxy_read_timeout {read_timeout}s;", snippet)
        (tmp_path / "proxy.conf").write_text(snippet, encoding="utf-8")
        site = read(SITE)
        for old, new in [
            ("/etc/nginx/snippets/reassort-proxy.conf", str(tmp_path / "proxy.conf")),
            ("/opt/reassort/app/static/", os.path.join(ROOT, "static") + "/"),
            ("/etc/letsencrypt/live/vote.example.fr/fullchain.pem", str(self.ca.cert_file)),
            ("/etc/letsencrypt/live/vote.example.fr/privkey.pem", str(self.ca.key_file)),
            ("/var/log/nginx/", f"{tmp_path}/"),
            ("/var/www/acme", str(tmp_path)),
            ("/etc/nginx/reassort-maintenance", str(self.maintenance)),
            ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
        ]:
            assert old in site, old
            site = site.replace(old, new)
        site = re.sub(r"^\s*listen \[::\].*$", "", site, flags=re.MULTILINE)
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.http_port};")
        site = site.replace("listen 443 ssl http2;", f"listen 127.0.0.1:{self.port} ssl http2;")
        (tmp_path / "site.conf").write_text(site, encoding="utf-8")
        mime = next((p for p in ("/etc/nginx/mime.types", os.path.join(os.path.dirname(os.path.dirname(
            self.binary)), "..", "etc", "nginx", "mime.types")) if os.path.isfile(p)), None)
        temp_paths = "\n".join(f"    {kind}_temp_path {tmp_path}/{kind};" for kind in
                               ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # (As root, the workers too: pytest's temporary folders are 0700.)
        (tmp_path / "nginx.conf").write_text(f"""
daemon off;
{'user root;' if os.geteuid() == 0 else ''}
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log warn;
events {{ worker_connections 512; }}
http {{
    {f'include {mime};' if mime else 'types {{ text/html html; text/css css; }}'}
{temp_paths}
    include {tmp_path}/site.conf;
}}
""", encoding="utf-8")
        self.process = None

    def command(self, *extra) -> list[str]:
        return [self.binary, "-p", str(self.tmp), "-c", str(self.tmp / "nginx.conf"), "-e", "stderr", *extra]

    def test_config(self) -> subprocess.CompletedProcess:
        return subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30)

    def __enter__(self):
        checked = self.test_config()
        assert checked.returncode == 0, checked.stderr
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # a real server's port: no clock to inject
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise AssertionError(self.process.stderr.read().decode()) from None
                time.sleep(0.05)
        raise AssertionError("nginx pas prêt en 10 s")

    def __exit__(self, *exc):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process.stderr.close()

    def get(self, path: str) -> requests.Response:
        return requests.get(f"https://127.0.0.1:{self.port}{path}", verify=str(self.ca.ca_file), timeout=30)


class Silent:
    """An upstream that accepts connections and never answers: a stuck worker."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while True:
            try:
                conn = self.sock.accept()[0]
            except OSError:
                return
            self.held.append(conn)
            self._accepted(conn, len(self.held) - 1)

    def _accepted(self, conn: socket.socket, number: int) -> None:
        """What to do with the ``number``-th connection: here, nothing (it is held)."""

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()
        for conn in self.held:
            conn.close()


class Recording(Silent):
    """An upstream that answers every request and keeps its connections open: which connection carried which."""

    def __init__(self):
        super().__init__()
        self.requests: list[tuple[int, str]] = []  # (connection number, its Connection header)

    def _accepted(self, conn: socket.socket, number: int) -> None:
        threading.Thread(target=self._serve, args=(conn, number), daemon=True).start()

    def _serve(self, conn: socket.socket, number: int):
        data = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in data:
                    try:
                        chunk = conn.recv(4096)
                    except OSError:
                        return
                    if not chunk:
                        return
                    data += chunk
                head, data = data.split(b"\r\n\r\n", 1)
                found = re.search(rb"^connection:\s*(\S*)\r?$", head, re.I | re.M)
                self.requests.append((number, found.group(1).decode().lower() if found else ""))
                # HTTP/1.1 without « Connection: close »: kept open unless nginx asked otherwise.
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")


def assert_french_page(response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    body = response.content.decode("utf-8")
    assert TITLES[status] in body and "<html lang=\"fr\">" in body and "nginx" not in body
    assert response.headers["Cache-Control"] == "no-store"


def test_nginx_sample_passes_nginx_t(tmp_path):
    checked = Nginx(tmp_path, free_port()).test_config()
    assert checked.returncode == 0, checked.stderr


def test_nginx_answers_the_french_502_page_when_the_app_is_down(tmp_path):
    with Nginx(tmp_path, free_port()) as nginx:  # nothing listens upstream
        assert_french_page(nginx.get("/connexion"), 502)
        assert nginx.get("/static/css/reassort.css").status_code == 200  # the page's stylesheet


def test_nginx_answers_the_french_504_page_when_the_app_is_too_slow(tmp_path):
    with Silent() as stuck, Nginx(tmp_path, stuck.port, read_timeout=1) as nginx:
        assert_french_page(nginx.get("/vote"), 504)


def test_nginx_maintenance_switch_answers_the_french_503_page(tmp_path):
    with Nginx(tmp_path, free_port()) as nginx:
        nginx.maintenance.touch()
        assert_french_page(nginx.get("/"), 503)
        nginx.maintenance.unlink()
        assert nginx.get("/").status_code == 502  # back to the (here absent) app


def inflight_limit() -> int:
    return int(re.search(r"^\s*limit_conn reassort_inflight (\d+);", read(SITE), re.MULTILINE).group(1))


def test_nginx_answers_the_french_429_page_at_once_beyond_the_requests_in_flight(tmp_path):
    # The app holds every request (stuck): once the sample's limit is in flight, the next
    # voter gets the French page from nginx at once; a bcrypt POST is not counted there, and
    # the réassort requests have places of their own.
    limit = inflight_limit()
    with Silent() as stuck, Nginx(tmp_path, stuck.port, read_timeout=3) as nginx:
        with ThreadPoolExecutor(max_workers=limit) as pool:
            held = [pool.submit(nginx.get, f"/vote?n={n}") for n in range(limit)]
            deadline = time.monotonic() + 10
            while len(stuck.held) < limit and time.monotonic() < deadline:  # a real server: no clock to inject
                time.sleep(0.02)
            assert len(stuck.held) == limit
            refused = nginx.get("/vote")
            assert_french_page(refused, 429)
            assert refused.headers["Retry-After"] == "10" and refused.elapsed.total_seconds() < 1
            with ThreadPoolExecutor(max_workers=2) as other:
                # A login (bcrypt: the app admits those) and a regeneration (places of its own)
                # both reach the (stuck) app while the limit is full.
                passed = [other.submit(requests.post, f"https://127.0.0.1:{nginx.port}{path}",
                                       data={"x": "y"}, verify=str(nginx.ca.ca_file), timeout=30)
                          for path in ("/connexion", "/reassort/regenerer")]
                while len(stuck.held) < limit + 2 and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert len(stuck.held) == limit + 2
                assert [f.result().status_code for f in passed] == [504, 504]
            assert [f.result().status_code for f in held] == [504] * limit


def test_nginx_gives_each_request_its_own_connection_so_no_worker_is_pinned(tmp_path):
    # A connection kept alive stays with the gunicorn worker that accepted it, and nginx reuses
    # the one it used last: every request of a moderate load then went to one worker (one core).
    # The sample opens a connection per request and asks the app to close it after answering.
    with Recording() as app, Nginx(tmp_path, app.port) as nginx:
        for _ in range(5):
            assert nginx.get("/vote").status_code == 200
    assert app.requests == [(number, "close") for number in range(5)]
