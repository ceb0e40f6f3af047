"""The election's report in headless Chromium: opened from its file, it fetches nothing, runs
no script, draws its charts, passes axe-core at WCAG 2.1 AA and reads at 320 px.
With ``SCREENSHOTS=1``: ``docs/screens/46-rapport-du-scrutin-{1280,390}.png``.
"""

from __future__ import annotations

import pytest

from reassort.web.extensions import db
from tests.audit_seed import WINDOW, seed_funnel, seed_poll

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings):
    settings.update(WINDOW, ELECTION_TITLE="Élections professionnelles 2026",
                    ELECTION_ORGANISER="Ministère de l'Éducation nationale")
    return settings


@pytest.fixture
def report_file(app, runner, tmp_path):
    with app.app_context():
        with db.new_session() as s:
            seed_poll(s)
            seed_funnel(s)
    out = tmp_path / "rapport.html"
    result = runner.invoke(args=["audit", "report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_report_in_chromium_is_self_contained_accessible_and_shot(browser, screens, report_file):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR",
                                  java_script_enabled=True)
    try:
        page = context.new_page()
        fetched = []
        page.on("request", lambda request: fetched.append(request.url))
        page.goto(report_file.as_uri())
        assert fetched == [report_file.as_uri()], "la page a demandé autre chose que son propre fichier"
        assert page.locator("script").count() == 0
        assert page.locator("svg.chart").count() == 8
        assert page.locator("svg.chart rect").count() > 100
        heading = page.get_by_role("heading", level=1)
        assert heading.inner_text() == "Rapport du service du code de vote"
        assert page.get_by_role("img", name="Connexions au portail").count() == 1
        first_chart = page.locator("svg.chart").nth(1).bounding_box()
        assert first_chart["width"] > 600 and first_chart["height"] > 100  # drawn, at the page's width
        screens.check(page, "46-rapport-du-scrutin", path="/rapport.html")
    finally:
        context.close()
