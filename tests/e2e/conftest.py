"""Browser fixtures: Debian's headless Chromium (one per session), the app served on
loopback (one per test), and ``screens``, the checks every screen goes through.

Chromium is never downloaded: ``/usr/bin/chromium`` or a skip with its reason
(a failure when ``REQUIRE_SERVICES=1``).  Each fixture closes what it opened in
a ``finally``: pytest runs with ``filterwarnings = error``, so a socket left open
would surface as a ``ResourceWarning``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import threading
from pathlib import Path

import pytest
from flask import got_request_exception
from werkzeug.serving import WSGIRequestHandler, make_server

from app import create_app
from reassort.adapters.messaging.outbox import read_all
from reassort.procedures import captchas
from reassort.rules.clock import FakeClock
from reassort.storage import migrations
from reassort.storage.models import Voter
from reassort.web.extensions import db
from tests.conftest import CODE, insert_voter, require_or_skip
from tests.e2e.steps import FROZEN_CLOCK

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}
NARROWEST = {"width": 320, "height": 640}
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENS_DIR = Path(__file__).resolve().parents[2] / "docs" / "screens"
#: The app's clock in the browser tests: a Wednesday of the poll, 10 h 42 in Paris (``live.clock``
#: moves it).  The window below is the one the pages show: « du 1er au 8 décembre 2026 ».
DEMO_NOW = dt.datetime(2026, 12, 2, 10, 42, tzinfo=dt.timezone(dt.timedelta(hours=1))).timestamp()
DEMO_OPENS = "2026-12-01T09:00:00+01:00"
DEMO_CLOSES = "2026-12-08T18:00:00+01:00"
FC_CLIENT_ID = "reassort-e2e"
FC_CLIENT_SECRET = "e2e-client-secret-not-for-production"

#: axe figures of every screen checked in this session: name → (violations, passes, path).
AXE_FIGURES: dict[str, tuple[int, int, str]] = {}


# --- the browser -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, launched once for the whole session."""
    if not os.path.exists(CHROMIUM):
        require_or_skip(f"Chromium absent ({CHROMIUM}) : installer le paquet Debian « chromium » "
                        "pour les tests de navigateur")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip("Playwright absent : pip install -r requirements-dev.txt")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


# --- the app on loopback -----------------------------------------------------------------

class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


class _Tracked:
    """A response body that calls ``done`` once, when consumed or closed (as ``after_response`` runs
    its work: werkzeug's server skips ``close()`` when the browser resets the connection)."""

    def __init__(self, body, done):
        self.body, self.done = body, done

    def __iter__(self):
        yield from self.body
        self._finish()

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self._finish()

    def _finish(self):
        done, self.done = self.done, None
        if done is not None:
            done()


class LiveApp:
    """``create_app`` served by werkzeug on 127.0.0.1 in a thread, with helpers for the tests.

    The socket is bound first so that ``PUBLIC_URL`` (the links sent) and the
    FranceConnect issuer are the real address the browser talks to.  The CAPTCHA
    stays on; tests solve it as only they can, from the challenge id in the image URL.
    The app's time is ``self.clock`` (``DEMO_NOW`` unless the test gives a ``CLOCK``), inside
    the poll's window ``DEMO_OPENS``–``DEMO_CLOSES``: pages and screenshots show fixed dates.
    """

    def __init__(self, folder: Path, overrides: dict):
        folder.mkdir(parents=True, exist_ok=True)
        self.server = make_server("127.0.0.1", 0, self._dispatch, threaded=True, request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        settings = {
            "ENV": "development",
            "SECRET_KEY": "e2e-" + secrets.token_urlsafe(32),
            "HASH_PEPPER": "e2e-pepper-0123456789abcdef0123456789",
            "DATABASE_URL": f"sqlite:///{folder}/e2e.db",
            "OUTBOX_DIR": str(folder / "outbox"),
            "MAIL_BACKEND": "outbox",
            "SMS_BACKEND": "outbox",
            "CAPTCHA_ENABLED": True,
            "BCRYPT_ROUNDS": 4,
            "RATELIMIT_STORAGE_URI": "memory://",
            "PUBLIC_URL": self.url,
            # As scripts/demo: the stand-in mounted in the app, reached over real HTTP.
            "FRANCECONNECT_STANDIN": True,
            "FRANCECONNECT_ISSUER": self.url + "/fc-standin/api/v2",
            "FRANCECONNECT_CLIENT_ID": FC_CLIENT_ID,
            "FRANCECONNECT_CLIENT_SECRET": FC_CLIENT_SECRET,
        }
        self.clock = overrides.pop("CLOCK", None) or FakeClock(DEMO_NOW)
        settings.update(CLOCK=self.clock, ELECTION_OPENS_AT=DEMO_OPENS, ELECTION_CLOSES_AT=DEMO_CLOSES)
        settings.update(overrides)
        self.app = create_app(settings)
        self.errors: list[BaseException] = []
        got_request_exception.connect(self._record_error, self.app)
        with self.app.app_context():
            migrations.upgrade(db.engine)
        self._count = 0
        # Responses handed to the server and not yet written out: work deferred after an answer
        # (the account pages' mails, reassort.web.after_response) has run once this is 0 again.
        self._open = 0
        self._idle = threading.Condition()
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="e2e-app", daemon=True)
        self._thread.start()

    def _dispatch(self, environ, start_response):
        with self._idle:
            self._open += 1
        try:
            body = self.app(environ, start_response)
        except BaseException:
            self._closed()
            raise
        return _Tracked(body, self._closed)

    def _closed(self) -> None:
        with self._idle:
            self._open -= 1
            self._idle.notify_all()

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every response served so far is written out (what ran after the answers has run)."""
        with self._idle:
            assert self._idle.wait_for(lambda: self._open == 0, timeout), "réponses encore ouvertes"

    def _record_error(self, _sender, exception, **_extra):
        self.errors.append(exception)

    def close(self) -> None:
        try:
            self.server.shutdown()
            self.server.server_close()
            self._thread.join(5)
        finally:
            got_request_exception.disconnect(self._record_error, self.app)
            with self.app.app_context():
                db.engine.dispose()

    # helpers ------------------------------------------------------------------------------

    def add_voter(self, activated: bool = True, code: str | None = CODE, **fields) -> tuple[int, str]:
        """Insert a voter with the known secrets of tests/conftest.py; returns (id, e-mail)."""
        self._count += 1
        fields.setdefault("identifiant", f"E2E{self._count:04d}")
        voter = insert_voter(self.app, self._count, code=code, activated=activated, **fields)
        return voter.id, voter.email

    def activation_link(self, voter_id: int) -> str:
        """A fresh activation link, as ``voters send-activation`` makes it (generation bumped)."""
        from reassort.procedures import accounts

        with self.app.app_context():
            s = db.new_session()
            try:
                voter = s.get(Voter, voter_id)
                voter.activation_generation += 1
                s.commit()
                return accounts.activation_link(voter.id, voter.activation_generation)
            finally:
                s.close()

    def reissue_link(self, voter_id: int) -> str:
        """A valid réassort link without the question défi (for tests about the reveal page only)."""
        from reassort.procedures import recovery

        with self.app.app_context():
            s = db.new_session()
            try:
                voter = s.get(Voter, voter_id)
                voter.link_generation += 1
                s.commit()
                return recovery.link_url(voter.id, voter.link_generation)
            finally:
                s.close()

    def captcha_answer(self, page) -> str:
        """Solve the CAPTCHA shown on ``page`` the way only a test can."""
        src = page.locator(".captcha img").get_attribute("src")
        challenge_id = re.search(r"/captcha/image/([^/]+)\.png", src).group(1)
        with self.app.app_context():
            return captchas.answer_for(challenge_id)

    def outbox(self) -> list[dict]:
        """The messages sent so far, those sent after an answer included (``settle``)."""
        self.settle()
        return read_all(self.app.config["OUTBOX_DIR"])

    def last_reset_link(self) -> str:
        links = re.findall(re.escape(self.url) + r"/mot-de-passe/lien/\S+",
                           "\n".join(m["body"] for m in self.outbox()))
        assert links, "aucun lien « mot de passe oublié » dans la boîte d'envoi"
        return links[-1]

    def last_link(self) -> str:
        links = re.findall(re.escape(self.url) + r"/reassort/lien/\S+",
                           "\n".join(m["body"] for m in self.outbox()))
        assert links, "aucun lien de réassort dans la boîte d'envoi"
        return links[-1]


@pytest.fixture
def live(tmp_path):
    """Factory: ``live(**overrides)`` serves a fresh app; every one is closed after the test."""
    apps: list[LiveApp] = []

    def serve(**overrides) -> LiveApp:
        served = LiveApp(tmp_path / f"app{len(apps)}", overrides)
        apps.append(served)
        return served

    try:
        yield serve
    finally:
        errors = [e for a in apps for e in a.errors]
        for served in reversed(apps):
            served.close()
    assert not errors, f"erreurs du serveur pendant le test : {errors!r}"


@pytest.fixture
def context(browser, live):
    """A fresh browser profile (cookies, storage) at desktop size; depends on ``live`` so that
    it is closed before the servers are."""
    ctx = browser.new_context(viewport=DESKTOP, locale="fr-FR", timezone_id="Europe/Paris")
    ctx.set_default_timeout(10_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


# --- what every screen goes through ------------------------------------------------------

_LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > doc.clientWidth) {
    problems.push(`défilement horizontal : ${doc.scrollWidth}px de contenu pour ${doc.clientWidth}px`);
  }
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, audio[controls], summary';
  for (const el of document.querySelectorAll(selector)) {
    const style = getComputedStyle(el);
    let box = el.getBoundingClientRect();
    if (style.display === 'none' || style.visibility === 'hidden' || (box.width === 0 && box.height === 0)) continue;
    if (box.right <= 0 || box.bottom <= 0) continue;  // off-screen until focused (skip link)
    // A link inside running text is exempt (WCAG 2.5.8, "inline"); a link alone on its line is not.
    if (el.tagName === 'A' && style.display === 'inline'
        && el.parentElement.textContent.trim() !== el.textContent.trim()) continue;
    // A radio button or a checkbox is hit through its label too.
    if ((el.type === 'radio' || el.type === 'checkbox') && el.labels && el.labels.length) {
      box = el.labels[0].getBoundingClientRect();
    }
    if (box.width < 44 || box.height < 44) {
      const name = (el.textContent || el.getAttribute('aria-label') || el.name || el.id || '').trim().slice(0, 40);
      const size = `${Math.round(box.width)}×${Math.round(box.height)} px`;
      problems.push(`cible tactile ${size} < 44 px : ${el.tagName.toLowerCase()} « ${name} »`);
    }
  }
  return problems;
}"""


class Screens:
    """``screens.check(page, name)``: axe-core at WCAG 2.1 AA with zero violations, no
    horizontal scroll and 44 px touch targets at 320 px, and — with ``SCREENSHOTS=1`` —
    a screenshot at 1280 and 390 px in docs/screens/."""

    def __init__(self, browser):
        from axe_playwright_python.sync_playwright import Axe

        self.axe = Axe()
        self.browser = browser
        self.shoot = os.environ.get("SCREENSHOTS") == "1"
        self._clean = None

    def close(self) -> None:
        if self._clean is not None:
            self._clean.close()

    def _axe(self, page) -> dict:
        options = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
        if page not in FROZEN_CLOCK:
            return self.axe.run(page, options=options).response
        # axe-core waits on timers, which a paused fake clock never fires: it checks a static
        # copy of the page as it stands (scripts left out) in a clock-free profile, on the same
        # origin so that the same style sheet applies.
        html = re.sub(r"<script\b[^>]*>.*?</script>", "", page.content(), flags=re.S)
        origin = re.match(r"https?://[^/]+", page.url).group(0)
        if self._clean is None:
            self._clean = self.browser.new_context(viewport=DESKTOP, locale="fr-FR")
        copy = self._clean.new_page()
        try:
            copy.route(origin + "/__copie__", lambda route: route.fulfill(body=html, content_type="text/html"))
            copy.goto(origin + "/__copie__")
            return self.axe.run(copy, options=options).response
        finally:
            copy.close()

    def check(self, page, name: str, path: str | None = None) -> None:
        page.wait_for_load_state("load")
        response = self._axe(page)
        violations = response["violations"]
        path = path or "/" + page.url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
        path = re.sub(r"[\w.-]{30,}", "…", path)  # tokens and challenge ids stay out of reports
        AXE_FIGURES[name] = (len(violations), len(response["passes"]), path)
        assert not violations, f"axe, écran « {name} » :\n" + "\n".join(
            f"  {v['id']} ({v['impact']}) : {v['help']} — "
            + ", ".join(str(n["target"]) for n in v["nodes"][:5]) for v in violations)
        viewport = page.viewport_size
        try:
            page.set_viewport_size(NARROWEST)
            problems = page.evaluate(_LAYOUT_PROBLEMS)
            assert not problems, f"écran « {name} » à 320 px :\n  " + "\n  ".join(problems)
            if self.shoot:
                SCREENS_DIR.mkdir(parents=True, exist_ok=True)
                for size in (DESKTOP, MOBILE):
                    page.set_viewport_size(size)
                    page.screenshot(path=str(SCREENS_DIR / f"{name}-{size['width']}.png"), full_page=True,
                                    animations="disabled", caret="hide")
        finally:
            page.set_viewport_size(viewport)


@pytest.fixture(scope="session")
def screens(browser):
    checker = Screens(browser)
    try:
        yield checker
    finally:
        checker.close()


def pytest_terminal_summary(terminalreporter):
    """The axe figures of every screen checked (and ``AXE_REPORT=file.json`` to keep them)."""
    if not AXE_FIGURES:
        return
    terminalreporter.section("axe-core, WCAG 2.1 AA (wcag2a, wcag2aa, wcag21a, wcag21aa)")
    terminalreporter.write_line(f"{'écran':32} {'violations':>10} {'passes':>7}  page")
    for name in sorted(AXE_FIGURES):
        violations, passes, path = AXE_FIGURES[name]
        terminalreporter.write_line(f"{name:32} {violations:>10} {passes:>7}  {path[:60]}")
    target = os.environ.get("AXE_REPORT")
    if target:
        Path(target).write_text(json.dumps(AXE_FIGURES, ensure_ascii=False, indent=1), encoding="utf-8")
