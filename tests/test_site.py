"""The election's identity, the footer, the accessibility statement and the logo (SPEC §1b, issue 13)."""

import pytest
from PIL import Image

from app import create_app
from reassort.settings import ConfigurationRefused
from tests.conftest import login, page_text
from tests.flows import ask_link
from views.context import help_href


@pytest.fixture
def dated(settings, clock):
    """A poll from 1 to 8 December 2026; the clock on Wednesday 2nd, 10 h 42 in Paris."""
    settings.update(ELECTION_OPENS_AT="2026-12-01T09:00:00+01:00", ELECTION_CLOSES_AT="2026-12-08T18:00:00+01:00",
                    ELECTION_TITLE="Élections professionnelles 2026", ELECTION_ORGANISER="Académie de démonstration",
                    HELP_CONTACT="assistance@exemple.org")
    clock.t = 1796204520.0  # 2026-12-02T10:42:00+01:00
    return settings


def test_every_page_names_the_organiser_the_election_and_its_dates(dated, client, make_voter, app):
    from tests.conftest import get_voter

    for path in ("/connexion", "/accessibilite", "/reassort/lien/pas-un-lien", "/nulle-part"):
        html = page_text(client.get(path))
        assert "Académie de démonstration" in html and "Élections professionnelles 2026" in html
        assert "Vote du 1er au 8 décembre 2026" in html
        assert '<a href="mailto:assistance@exemple.org">assistance@exemple.org</a>' in html
        assert "Accessibilité : partiellement conforme" in html
    login(client, get_voter(app, make_voter()).email)
    for path in ("/", "/vote", "/reassort", "/reassort/question-defi"):
        html = page_text(client.get(path))
        assert "Le vote est ouvert</strong> jusqu'au mardi 8 décembre 2026 à 18 h." in html, path


def test_messages_name_the_election(dated, logged_in, outbox):
    client, _, _ = logged_in
    ask_link(client, channel="sms")
    ask_link(client, channel="email")
    sms, mail = outbox()
    assert sms["body"].startswith("Élections professionnelles 2026 : lien pour un nouveau code de vote")
    assert "« Élections professionnelles 2026 », organisées par Académie de démonstration" in mail["body"]
    assert "assistance@exemple.org" in mail["body"]


def test_accessibility_statement_is_public_and_says_how_to_report_a_problem(client):
    response = client.get("/accessibilite")
    html = page_text(response)
    assert response.status_code == 200
    for said in ("Déclaration d'accessibilité", "partiellement conforme", "RGAA", "Retour d'information et contact",
                 "Défenseur des droits"):
        assert said in html


def test_accessibility_status_is_a_setting(settings):
    settings["ACCESSIBILITY_STATUS"] = "totalement conforme"
    client = create_app(settings).test_client()
    assert "Accessibilité : totalement conforme" in page_text(client.get("/connexion"))


def test_accessibility_status_takes_only_the_three_rgaa_words(settings):
    settings["ACCESSIBILITY_STATUS"] = "conforme"
    with pytest.raises(ConfigurationRefused):
        create_app(settings)


@pytest.mark.parametrize("contact, href", [
    ("https://aide.exemple.org/vote", "https://aide.exemple.org/vote"),
    ("assistance@exemple.org", "mailto:assistance@exemple.org"),
    ("01 23 45 67 89", "tel:+33123456789"),
    ("+590 590 12 34 56", "tel:+590590123456"),
    ("Bureau des élections, bâtiment B", None),
])
def test_help_contact_becomes_the_right_kind_of_link(contact, href):
    assert help_href(contact) == href


def test_no_logo_by_default_a_neutral_look(client):
    assert client.get("/logo").status_code == 404
    assert 'class="logo"' not in page_text(client.get("/connexion"))


def test_deployment_logo_is_served_from_our_origin(settings, tmp_path):
    logo = tmp_path / "logo.png"
    Image.new("RGB", (80, 40), (10, 80, 40)).save(logo)
    settings["LOGO_PATH"] = str(logo)
    client = create_app(settings).test_client()
    html = page_text(client.get("/connexion"))
    assert '<img class="logo" src="/logo" alt=""' in html
    response = client.get("/logo")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data == logo.read_bytes()
    assert "sandbox" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize("name", ["absent.png", "logo.gif"])
def test_logo_path_must_name_an_existing_image(settings, tmp_path, name):
    (tmp_path / "logo.gif").write_bytes(b"GIF89a")
    settings["LOGO_PATH"] = str(tmp_path / name)
    with pytest.raises(ConfigurationRefused) as refused:
        create_app(settings)
    assert "LOGO_PATH" in str(refused.value)
