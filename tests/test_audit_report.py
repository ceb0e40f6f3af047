"""The election's report (issue 16 item 3): ``audit report --out FILE.html``.

Built from a seeded audit trail whose counts are known: one self-contained page (no
script, nothing fetched, inline CSS and SVG), charts by local hour, the funnel, and
never a voter id, an IP hash or a detail that is not a word of the code.
The same page in headless Chromium: ``tests/e2e/test_audit_report.py``.
"""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from reassort.rules import charts
from reassort.storage.models import AuditEvent
from reassort.web.extensions import db
from tests.audit_seed import IP_HASH, VOTER_BASE, WINDOW, seed_funnel, seed_poll

pytestmark = pytest.mark.each_database


@pytest.fixture
def settings(settings):
    settings.update(WINDOW, ELECTION_TITLE="Élections professionnelles 2026", ELECTION_ORGANISER="Ministère")
    return settings


def seed(app, *seeders) -> None:
    with app.app_context():
        with db.new_session() as s:
            for seeder in seeders:
                seeder(s)


def report(runner, tmp_path, *args) -> str:
    out = tmp_path / "rapport.html"
    result = runner.invoke(args=["audit", "report", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    assert "Rapport écrit dans" in result.stdout
    return out.read_text(encoding="utf-8")


def table(page: str, caption: str) -> list[list[str]]:
    """The rows of the table with this caption, as text cells."""
    tables = re.findall(r"<caption>(.*?)</caption>(.*?)</table>", page, flags=re.S)
    [body] = [body for text, body in tables if html.unescape(text) == caption]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
             for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)] for row in rows]


def test_report_is_one_self_contained_page_without_script(runner, app, tmp_path):
    seed(app, seed_poll)
    page = report(runner, tmp_path)
    assert page.startswith("<!doctype html>") and '<html lang="fr">' in page
    assert "<script" not in page.lower() and "javascript:" not in page.lower()
    assert not re.search(r"""(?:src|href)\s*=|url\(|@import|<link|<iframe|<object|<img""", page, flags=re.I)
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page)
    assert page.count("<svg") == 8  # the funnel and seven charts by hour
    assert "<style>" in page


def test_report_counts_the_funnel_by_distinct_voters(runner, app, tmp_path):
    seed(app, seed_funnel)
    page = report(runner, tmp_path)
    assert table(page, "Entonnoir du réassort (électeurs distincts)")[1:] == [
        # The ten, plus two FranceConnect mismatches, an error, a failed send and a suspension.
        ["ont demandé un réassort", "15"],
        ["ont reçu un lien", "7"], ["ont ouvert le lien", "6"], ["ont régénéré leur code", "5"],
        ["ont saisi un code de vote ensuite", "3"]]


def test_report_splits_reassorts_by_path_and_channel_and_counts_reasons(runner, app, tmp_path):
    seed(app, seed_funnel)
    page = report(runner, tmp_path)
    days = table(page, "Réassorts : liens envoyés, par voie et canal, par jour")
    assert days[0] == ["Jour", "question défi, SMS", "question défi, courriel", "FranceConnect, courriel"]
    assert days[1] == ["01/12/2026", "4", "0", "3"]
    assert table(page, "Discordances d'identité, par champ (une discordance peut porter sur plusieurs champs)")[1:] \
        == [["date de naissance", "2"], ["nom de naissance", "1"]]
    assert table(page, "Réponses de FranceConnect refusées, par motif")[1:] == [["id_token", "1"]]
    totals = dict(row for row in table(page, "Événements du journal d'audit sur la période")[1:])
    assert totals["Réassorts demandés (liens envoyés)"] == "7"
    assert totals["Envois de lien en échec"] == "1"
    assert totals["Questions défi bloquées (trop d'échecs)"] == "1"


def test_report_never_names_a_voter_nor_an_address(runner, app, tmp_path):
    seed(app, seed_funnel, seed_poll)
    page = report(runner, tmp_path)
    assert IP_HASH not in page
    assert not [n for n in re.findall(r"\d{6,}", page) if int(n) >= VOTER_BASE]
    assert "@" not in page.split("</style>", 1)[1]


def test_report_hours_are_local_time(runner, app, tmp_path):
    # 23:30 UTC on 1 December is 00:30 in Paris on the 2nd.
    with app.app_context():
        with db.new_session() as s:
            s.add(AuditEvent(at=dt.datetime(2026, 12, 1, 23, 30), event="login_ok", voter_id=1))
            s.commit()
    page = report(runner, tmp_path)
    assert ["02/12/2026", "1", "0"] in table(page, "Connexions au portail, par jour")
    assert ["02/12 00 h", "1", "0"] in table(page, "Connexions au portail, par heure")
    utc = report(runner, tmp_path, "--timezone", "UTC")
    assert ["01/12 23 h", "1", "0"] in table(utc, "Connexions au portail, par heure")


def test_report_period_is_the_poll_unless_given(runner, app, tmp_path):
    seed(app, seed_poll)
    page = report(runner, tmp_path)
    assert "du 01/12/2026 à 09 h 00 au 03/12/2026 à 17 h 00" in page
    one_day = report(runner, tmp_path, "--from", "2026-12-02", "--to", "2026-12-02")
    assert "du 02/12/2026 à 00 h 00 au 03/12/2026 à 00 h 00" in one_day
    assert [row[0] for row in table(one_day, "Connexions au portail, par jour")[1:]] == ["02/12/2026"]
    assert "hors de cette période" in one_day


@pytest.mark.parametrize("args, message", [
    (["--from", "hier"], "Date illisible"),
    (["--from", "2026-12-03", "--to", "2026-12-01"], "La fin de la période doit suivre son début"),
    (["--from", "2026-01-01", "--to", "2026-12-31"], "Période trop longue"),
    (["--timezone", "Lune/Mer_de_la_Tranquillité"], "Fuseau horaire inconnu"),
])
def test_report_refuses_a_bad_period_or_zone_in_french(runner, app, tmp_path, args, message):
    result = runner.invoke(args=["audit", "report", "--out", str(tmp_path / "r.html"), *args])
    assert result.exit_code == 1 and message in result.stderr
    assert "Traceback" not in result.output and not (tmp_path / "r.html").exists()


def test_report_of_an_empty_trail_without_a_window_says_so(runner, settings, tmp_path):
    from app import create_app
    settings.update(ELECTION_OPENS_AT=None, ELECTION_CLOSES_AT=None)
    empty = create_app(settings)
    with empty.app_context():
        from reassort.storage import migrations
        migrations.upgrade(db.engine)
    result = empty.test_cli_runner().invoke(args=["audit", "report", "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 1 and "Journal d'audit vide" in result.stderr
    with empty.app_context():
        db.engine.dispose()


def test_chart_escapes_its_texts_and_scales_to_a_round_top():
    hours = [dt.datetime(2026, 12, 1, h) for h in range(3)]
    svg = charts.bar_chart("c<1>", 'Titre "<b>"', hours, [charts.Series("a & b", "#000", (3, 7, 0))])
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "a &amp; b" in svg
    assert charts.nice_ceiling(7) == 10 and charts.nice_ceiling(11) == 20 and charts.nice_ceiling(0) == 1
    assert svg.count("<rect") == 2
