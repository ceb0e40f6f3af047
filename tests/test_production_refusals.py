"""SEC-46: what production refuses since the security review, through ``create_app`` and ``check-config``.

Each case starts from ``safe_production`` (accepted) and changes what an operator
might get wrong; both doors must refuse it and name the setting.
"""

from __future__ import annotations

import datetime as dt

import pytest

from app import UnsafeConfiguration, create_app
from reassort.procedures import links, votegate
from reassort.rules import tokens
from reassort.rules.deployment import is_loopback, weak_key
from reassort.settings import ConfigurationRefused
from reassort.storage.models import Voter
from reassort.web.extensions import db
from tests.conftest import CODE, csrf_of, get_voter
from tests.test_production import PEPPER, SECRET_KEY, as_environ, check_config, safe_production

WEAK = "secret"

REFUSALS = [
    # (id, overrides, the setting the refusal names)
    ("fallback-too-short", {"SECRET_KEY_FALLBACKS": [WEAK]}, "SECRET_KEY_FALLBACKS"),
    ("fallback-low-variety", {"SECRET_KEY_FALLBACKS": [SECRET_KEY[::-1], "a" * 40]}, "SECRET_KEY_FALLBACKS"),
    ("fallback-is-the-pepper", {"SECRET_KEY_FALLBACKS": [PEPPER]}, "SECRET_KEY_FALLBACKS"),
    ("key-equals-pepper", {"HASH_PEPPER": SECRET_KEY}, "SECRET_KEY / HASH_PEPPER"),
    ("key-one-character", {"SECRET_KEY": "a" * 32}, "SECRET_KEY"),
    ("key-repeated-word", {"SECRET_KEY": "secret" * 8}, "SECRET_KEY"),
    ("key-mostly-one-character", {"SECRET_KEY": "prod-secret-key-" + "k" * 40}, "SECRET_KEY"),
    ("pepper-one-character", {"HASH_PEPPER": "p" * 48}, "HASH_PEPPER"),
    ("ratelimit-memory-capitals", {"RATELIMIT_STORAGE_URI": "MEMORY://"}, "RATELIMIT_STORAGE_URI"),
    ("ratelimit-memory-space", {"RATELIMIT_STORAGE_URI": " memory://"}, "RATELIMIT_STORAGE_URI"),
    ("ratelimit-memory-no-slashes", {"RATELIMIT_STORAGE_URI": "memory:"}, "RATELIMIT_STORAGE_URI"),
    ("sms-plain-http", {"SMS_HTTP_URL": "http://sms.example.fr/envoi"}, "SMS_HTTP_URL"),
    ("sms-plain-http-capitals", {"SMS_HTTP_URL": "HTTP://sms.example.fr/envoi"}, "SMS_HTTP_URL"),
    ("sms-url-empty", {"SMS_HTTP_URL": ""}, "SMS_HTTP_URL"),
    ("smtp-clear-to-a-remote-relay", {"SMTP_TLS": "none", "SMTP_HOST": "smtp.example.fr", "SMTP_USER": "u",
                                      "SMTP_PASSWORD": "mot-de-passe-smtp"}, "SMTP_TLS"),
    ("smtp-clear-to-a-remote-address", {"SMTP_TLS": "none", "SMTP_HOST": "192.0.2.25"}, "SMTP_TLS"),
    ("sqlite-file", {"DATABASE_URL": "sqlite:////var/lib/reassort/reassort.db"}, "DATABASE_URL"),
    ("sqlite-memory", {"DATABASE_URL": "sqlite://"}, "DATABASE_URL"),
]


@pytest.mark.parametrize("overrides, setting", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_sec46_production_refuses(tmp_path, overrides, setting):
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app({**safe_production(tmp_path), **overrides})
    assert [p.split(" : ", 1)[0] for p in refused.value.problems] == [setting], refused.value.problems
    for value in overrides.values():
        if isinstance(value, str) and len(value) > 8:
            assert value.strip() not in str(refused.value) or setting == "RATELIMIT_STORAGE_URI"


@pytest.mark.parametrize("overrides, setting", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_sec46_check_config_lists_the_same(tmp_path, overrides, setting):
    result = check_config(as_environ({**safe_production(tmp_path), **overrides}))
    assert result.exit_code == 1
    assert f"  - {setting} :" in result.output
    assert WEAK not in result.output.replace("secrets", "").replace("SECRET", "")


@pytest.mark.parametrize("overrides", [
    {"SMTP_TLS": "none", "SMTP_HOST": "127.0.0.1"},     # a local relay (postfix on the VM) may speak clear
    {"SMTP_TLS": "none", "SMTP_HOST": "localhost"},
    {"SMTP_TLS": "none", "SMTP_HOST": "::1"},
    {"SMTP_TLS": "ssl", "SMTP_HOST": "smtp.example.fr"},
    {"RATELIMIT_STORAGE_URI": "rediss://:motdepasse@redis.internal:6380/0"},
    {"RATELIMIT_STORAGE_URI": " REDIS://127.0.0.1:6379/0"},
    {"SECRET_KEY_FALLBACKS": [SECRET_KEY[::-1]]},          # a real older key: rotation goes on
], ids=["smtp-loopback", "smtp-localhost", "smtp-ipv6-loopback", "smtp-ssl", "rediss", "redis-capitals",
        "good-fallback"])
def test_sec46_what_stays_accepted(tmp_path, overrides):
    create_app({**safe_production(tmp_path), **overrides})


def test_sec46_unknown_env_is_refused_by_name():
    with pytest.raises(ConfigurationRefused) as refused:
        create_app({"ENV": "prod"})
    assert "ENV" in str(refused.value)
    result = check_config({"REASSORT_ENV": "prod"})
    assert result.exit_code == 1 and "ENV" in result.output and "development" in result.output


def test_sec46_key_checks():
    import secrets
    assert all(weak_key(secrets.token_urlsafe(32)) is None for _ in range(200))
    assert all(weak_key(secrets.token_hex(16)) is None for _ in range(200))
    assert weak_key("a" * 32) and weak_key("abcd" * 8) and weak_key("") and weak_key(None)
    assert is_loopback("127.0.0.5") and is_loopback("[::1]") and is_loopback("LOCALHOST")
    assert not is_loopback("smtp.example.fr") and not is_loopback("10.0.0.1") and not is_loopback("")


# -- link generations start at random: no link can be forged for a generation nobody knows ------

def forge(app, voter_id: int, generation: int, purpose=tokens.REISSUE) -> str:
    """A link signed with the app's own keys (what a leaked fallback key allows)."""
    with app.app_context():
        return links.make(purpose, voter_id, generation)


def new_voter_without_generations(app) -> int:
    """A voter added as a plain insert that names no generation (the model's defaults apply)."""
    with app.app_context():
        with db.new_session() as s:
            voter = Voter(identifiant="N0001", nom="MARTIN", prenoms="Paul", date_naissance=dt.date(1970, 1, 1),
                          email="paul.martin@education.gouv.fr", code_digest=votegate.code_digest(CODE))
            s.add(voter)
            s.commit()
            return voter.id


@pytest.mark.each_database
def test_sec46_a_forged_link_for_a_voter_who_never_asked_one_regenerates_nothing(app, client):
    voter_id = new_voter_without_generations(app)
    voter = get_voter(app, voter_id)
    assert voter.link_generation not in (0, 1) and voter.activation_generation not in (0, 1)
    for generation in (0, 1):
        opened = client.get("/reassort/lien/" + forge(app, voter_id, generation))
        assert opened.status_code == 400
        page = client.get("/reassort/regenerer")
        assert page.status_code == 400 and 'id="code-value"' not in page.get_data(as_text=True)
        activation = client.get("/activation/" + forge(app, voter_id, generation, tokens.ACTIVATION))
        assert activation.status_code == 400
    with app.app_context():
        assert votegate.code_matches(get_voter(app, voter_id), CODE)


@pytest.mark.each_database
def test_sec46_generation_zero_is_never_a_link_even_where_a_voter_still_holds_it(app, client, make_voter):
    # An older database (before the migration that randomised them) or a tool writing 0 explicitly.
    voter_id = make_voter(link_generation=0, activation_generation=0, activated=False)
    assert client.get("/reassort/lien/" + forge(app, voter_id, 0)).status_code == 400
    response = client.get("/activation/" + forge(app, voter_id, 0, tokens.ACTIVATION))
    assert response.status_code == 400 and "csrf_token" not in response.get_data(as_text=True)
    page = client.get("/connexion")
    assert csrf_of(page)  # the app still serves its pages
