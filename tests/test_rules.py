"""Named tests for the remaining rules of SPEC §2 and SECURITY.md, and the domain units."""

import math
import re
import secrets

import pytest

from reassort.rules import codes, contacts, identifiers, spelling
from reassort.rules.questions import QUESTIONS
from tests.conftest import NUMEN, csrf_of, page_text
from tests.flows import ask_link


def test_sec28_codes_use_the_unambiguous_alphabet_and_73_bits():
    assert not set("IOlo01") & set(codes.ALPHABET)
    assert len(codes.ALPHABET) == 66 and "-" not in codes.ALPHABET
    assert codes.LENGTH * math.log2(len(codes.ALPHABET)) > 72.5
    for _ in range(500):
        code = codes.generate()
        assert len(code) == 12 and set(code) <= set(codes.ALPHABET)
        assert any(c in codes.UPPER for c in code) and any(c in codes.LOWER for c in code)
        assert any(c in codes.DIGITS for c in code) and any(c in codes.SPECIAL for c in code)


def test_sec28_codes_are_not_repeated():
    assert len({codes.generate() for _ in range(2000)}) == 2000


def test_code_spelled_for_screen_readers():
    assert spelling.spell("Ab3#") == "A majuscule, b minuscule, 3, dièse"


def test_sec05_questions_come_from_a_vetted_list():
    forbidden = ("naissance", "postal", "département", "jeune fille", "animal", "né", "née")
    for text in QUESTIONS.values():
        assert not any(re.search(rf"\b{word}\b", text.lower()) for word in forbidden), text


@pytest.mark.parametrize("typed, expected", [
    ("12E1234567ABC", ("numen", "12E1234567ABC")),
    ("12e1234567abc", ("numen", "12E1234567ABC")),
    ("2620875107", ("nir", "2620875107")),
    ("2 62 08 75 107", ("nir", "2620875107")),
    ("1 84 06 2A 004", ("nir", "184062A004")),
    ("1840620B004", None),
    ("3620875107", None),
    ("123", None),
    ("", None),
])
def test_identifier_told_apart_by_shape(typed, expected):
    assert identifiers.classify(typed) == expected


@pytest.mark.parametrize("nir, ok", [
    ("2620875107123", True), ("262087510712345", False), ("184062A00412345", False),
])
def test_nir_full_forms(nir, ok):
    assert (identifiers.parse_nir(nir) is not None) is ok


def test_nir_key_checked_for_15_characters_including_corsica():
    body = "1840620004123"
    key = 97 - int(body) % 97
    assert identifiers.parse_nir(f"{body}{key:02d}") == "1840620004"
    corsica = "184062A004123"
    key = 97 - int(corsica.replace("2A", "19")) % 97
    assert identifiers.parse_nir(f"{corsica}{key:02d}") == "184062A004"


def test_masks():
    assert contacts.mask_mobile("+33612345678") == "06 •• •• •• 78"
    assert contacts.mask_email("jeanne@exemple.org") == "j•••@exemple.org"


def test_sec07_numen_alone_never_unlocks_anything(logged_in, outbox):
    client, _, _ = logged_in
    response = ask_link(client, answer="pas la réponse", identifier=NUMEN)
    assert "ne permettent pas de vous identifier" in page_text(response)
    assert outbox() == []


def test_sec11_link_endpoint_is_rate_limited(settings, request):
    settings["LINK_OPEN_LIMIT_PER_IP"] = "3 per minute"
    settings["RATELIMIT_PER_IP"] = "3 per minute"
    client = request.getfixturevalue("client")
    statuses = [client.get("/reassort/lien/faux-jeton").status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]


@pytest.mark.parametrize("url, data", [
    ("/connexion", {"email": "a@b.fr", "password": "x"}),
    ("/vote", {"code": "x"}),
    ("/reassort/question-defi", {"answer": "x", "identifier": "x", "channel": "sms"}),
    ("/reassort/regenerer", {}),
    ("/deconnexion", {}),
])
def test_sec35_csrf_token_required_on_every_post(logged_in, url, data):
    client, _, _ = logged_in
    response = client.post(url, data=data)
    assert response.status_code == 400


def test_sec39_code_and_identifier_fields_allow_paste(logged_in):
    client, _, _ = logged_in
    for url in ("/vote", "/reassort/question-defi", "/connexion"):
        html = client.get(url).get_data(as_text=True)
        assert "onpaste" not in html and "readonly" not in html


def test_sec34_production_cookie_is_host_prefixed_and_secure():
    from app import create_app
    app = create_app({
        "ENV": "production", "SECRET_KEY": secrets.token_urlsafe(40), "HASH_PEPPER": secrets.token_urlsafe(40),
        "MAIL_BACKEND": "smtp", "SMTP_TLS": "ssl", "SMS_BACKEND": "http", "SMS_HTTP_URL": "https://sms.invalid/envoi",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379", "PUBLIC_URL": "https://vote.example.fr",
        "DATABASE_URL": "postgresql+psycopg://reassort@db.invalid/reassort", "PROXY_COUNT": 1,
    })
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_sec09_throttled_page_is_french(settings, request):
    settings["RATELIMIT_PER_IP"] = "1 per minute"
    client = request.getfixturevalue("client")
    page = client.get("/connexion")
    client.post("/connexion", data={"email": "a@b.fr", "password": "x", "csrf_token": csrf_of(page)})
    throttled = client.post("/connexion", data={"email": "a@b.fr", "password": "x", "csrf_token": csrf_of(page)})
    assert throttled.status_code == 429 and "Trop de tentatives" in page_text(throttled)
    assert "Retry-After" in throttled.headers
