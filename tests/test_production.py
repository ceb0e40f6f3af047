"""The IT team's side (SPEC §3): production refusals, check-config, JSON logs.

The servers themselves (gunicorn, Redis across workers) are in ``test_gunicorn.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import config
from app import UnsafeConfiguration, create_app
from reassort.web.request_log import JsonFormatter, redact_path
from tests.conftest import get_voter, login
from tests.services import ROOT, clean_environ

# Fixed test keys of the shape production accepts (long, varied: as secrets.token_urlsafe draws them).
SECRET_KEY = "prod-clé-Xq7vR2mK9pLw4sTn8bYc3dFh6jGz5aQe"
PEPPER = "prod-poivre-Hn4tW8cB2xJk6mQs9vLp3rFd7gYz5eA"
DB_PASSWORD = "motdepasse-base-9f3e"


def safe_production(tmp_path) -> dict:
    """A complete production configuration that ``create_app`` accepts (nothing is contacted)."""
    return {
        "ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "HASH_PEPPER": PEPPER,
        "DATABASE_URL": "postgresql+psycopg://reassort@db.invalid/reassort",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
        "PUBLIC_URL": "https://vote.example.fr",
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "smtp.invalid",
        "SMTP_TLS": "starttls",
        "SMS_BACKEND": "http",
        "SMS_HTTP_URL": "https://sms.invalid/envoi",
        "PROXY_COUNT": 1,
    }


def as_environ(settings: dict) -> dict:
    """``settings`` as the REASSORT_ variables an operator would export."""
    return {f"REASSORT_{k}": v if isinstance(v, str) else json.dumps(v) for k, v in settings.items()}


# --- Production refuses unsafe settings --------------------------------------------------

def test_safe_production_settings_start(tmp_path):
    app = create_app(safe_production(tmp_path))
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-session"
    assert app.config["SESSION_COOKIE_SECURE"] is True


REFUSALS = [
    # (id, overrides, the setting the refusal names)
    ("secret-key-missing", {"SECRET_KEY": None}, "SECRET_KEY"),
    ("secret-key-short", {"SECRET_KEY": "trop-courte"}, "SECRET_KEY"),
    ("pepper-missing", {"HASH_PEPPER": None}, "HASH_PEPPER"),
    ("pepper-short", {"HASH_PEPPER": "court"}, "HASH_PEPPER"),
    ("pepper-dev-value", {"HASH_PEPPER": config.DEV_PEPPER}, "HASH_PEPPER"),
    ("captcha-disabled", {"CAPTCHA_ENABLED": False}, "CAPTCHA_ENABLED"),
    ("ratelimit-disabled", {"RATELIMIT_ENABLED": False}, "RATELIMIT_ENABLED"),
    ("mail-console", {"MAIL_BACKEND": "console"}, "MAIL_BACKEND"),
    ("mail-outbox", {"MAIL_BACKEND": "outbox"}, "MAIL_BACKEND"),
    ("sms-console", {"SMS_BACKEND": "console"}, "SMS_BACKEND"),
    ("sms-outbox", {"SMS_BACKEND": "outbox"}, "SMS_BACKEND"),
    ("franceconnect-standin", {"FRANCECONNECT_STANDIN": True}, "FRANCECONNECT_STANDIN"),
    ("franceconnect-plain-http", {"FRANCECONNECT_ISSUER": "http://fc.example/api/v2",
                                  "FRANCECONNECT_CLIENT_ID": "id", "FRANCECONNECT_CLIENT_SECRET": "s"},
     "FRANCECONNECT_ISSUER"),
    ("franceconnect-without-client", {"FRANCECONNECT_ISSUER": "https://fc.example/api/v2"},
     "FRANCECONNECT_CLIENT_ID"),
    ("ratelimit-memory", {"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI"),
    ("ratelimit-memory-one-worker", {"RATELIMIT_STORAGE_URI": "memory://", "WORKERS": 1}, "RATELIMIT_STORAGE_URI"),
    ("public-url-plain-http", {"PUBLIC_URL": "http://vote.example.fr"}, "PUBLIC_URL"),
]


@pytest.mark.parametrize("overrides, setting", [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_production_refuses(tmp_path, overrides, setting):
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app({**safe_production(tmp_path), **overrides})
    assert len(refused.value.problems) == 1, refused.value.problems
    assert refused.value.problems[0].startswith(setting + " ")
    assert setting in str(refused.value)


def test_production_refusal_lists_every_problem_and_no_secret(tmp_path):
    unsafe = {**safe_production(tmp_path), "SECRET_KEY": "secret-court-123", "CAPTCHA_ENABLED": False,
              "RATELIMIT_STORAGE_URI": "memory://"}
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app(unsafe)
    named = {problem.split(" ", 1)[0] for problem in refused.value.problems}
    assert named == {"SECRET_KEY", "CAPTCHA_ENABLED", "RATELIMIT_STORAGE_URI"}
    assert "secret-court-123" not in str(refused.value)


def test_production_defaults_are_all_refused():
    with pytest.raises(UnsafeConfiguration) as refused:
        create_app({"ENV": "production"})
    named = {problem.split(" ", 1)[0] for problem in refused.value.problems}
    assert {"SECRET_KEY", "HASH_PEPPER", "MAIL_BACKEND", "SMS_BACKEND", "RATELIMIT_STORAGE_URI",
            "PUBLIC_URL"} <= named


# --- check-config ------------------------------------------------------------------------

def check_config(env: dict):
    """Run ``check-config`` on a development app with exactly ``env`` as REASSORT_ variables."""
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    cleared = {k: None for k in os.environ if k.startswith("REASSORT_")}
    return app.test_cli_runner().invoke(args=["check-config"], env={**cleared, **env})


def test_check_config_accepts_a_safe_environment_and_hides_secrets(tmp_path):
    settings = {**safe_production(tmp_path),
                "DATABASE_URL": f"postgresql+psycopg://reassort:{DB_PASSWORD}@db.internal/reassort",
                "SMTP_PASSWORD": "smtp-secret-value", "SMS_HTTP_AUTH": "Bearer sms-secret-value"}
    result = check_config(as_environ(settings))
    assert result.exit_code == 0, result.output
    assert "Configuration acceptée pour la production." in result.output
    for secret in (SECRET_KEY, PEPPER, DB_PASSWORD, "smtp-secret-value", "sms-secret-value"):
        assert secret not in result.output
    assert "postgresql+psycopg://reassort:•••@db.internal/reassort" in result.output


def test_check_config_lists_every_unsafe_setting_and_exits_1(tmp_path):
    settings = {**safe_production(tmp_path), "SECRET_KEY": "court-mais-secret", "RATELIMIT_STORAGE_URI": "memory://",
                "MAIL_BACKEND": "console"}
    result = check_config(as_environ(settings))
    assert result.exit_code == 1
    for setting in ("SECRET_KEY", "RATELIMIT_STORAGE_URI", "MAIL_BACKEND"):
        assert f"  - {setting} :" in result.output
    assert "HASH_PEPPER :" not in result.output.split("Configuration refusée")[-1]
    assert "court-mais-secret" not in result.output


def test_check_config_reports_a_development_environment():
    result = check_config({})
    assert result.exit_code == 1
    assert "  - ENV :" in result.output
    # Judged as production would: no development key or pepper fills the gap.
    assert "  - SECRET_KEY :" in result.output and "  - HASH_PEPPER :" in result.output


def run_flask_check_config(env: dict) -> subprocess.CompletedProcess:
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    return subprocess.run([flask, "--app", "app", "check-config"], cwd=ROOT, env=clean_environ(**env),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_flask_check_config_exits_0_on_a_safe_production_environment(tmp_path):
    done = run_flask_check_config(as_environ(safe_production(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert "Configuration acceptée pour la production." in done.stdout
    assert SECRET_KEY not in done.stdout + done.stderr and PEPPER not in done.stdout + done.stderr


@pytest.mark.slow
def test_flask_check_config_exits_1_when_production_refuses_to_load(tmp_path):
    # The module-level app refuses first; the command line still names every setting.
    env = as_environ({**safe_production(tmp_path), "SECRET_KEY": "court-mais-secret", "SMS_BACKEND": "console"})
    done = run_flask_check_config(env)
    assert done.returncode == 1
    assert "SECRET_KEY" in done.stderr and "SMS_BACKEND" in done.stderr
    assert "court-mais-secret" not in done.stdout + done.stderr


# --- /healthz and /readyz: tests/test_readiness.py ---------------------------------------

# --- JSON logs ---------------------------------------------------------------------------

def log_lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]


def test_log_lines_are_json_with_a_request_id_and_no_personal_data(app, client, make_voter, capsys):
    voter_id = make_voter()
    email = get_voter(app, voter_id).email
    capsys.readouterr()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.77"
    token = "WzEsMF0.aBcDeFgHiJkLmN.OpQrStUvWxYz0123456789"
    login(client, email, "pas le bon mot de passe")
    echoed = client.get(f"/reassort/lien/{token}?email={email}", headers={"X-Request-ID": "req-0123456789"})
    client.get(f"/activation/{token}")
    client.get(f"/inconnu/{email}/{token}")
    lines = log_lines(capsys)
    requests_logged = [line for line in lines if line["logger"] == "reassort.request"]
    assert len(requests_logged) == 5  # GET + POST /connexion, the link, the activation, the 404
    assert all(line["request_id"] for line in lines)
    assert echoed.headers["X-Request-ID"] == "req-0123456789"
    assert any(line["request_id"] == "req-0123456789" and line["route"] == "/reassort/lien/<path:token>"
               for line in requests_logged)
    assert {"/connexion", "/activation/<token>"} <= {line["route"] for line in requests_logged}
    text = json.dumps(lines, ensure_ascii=False)
    for leaked in (email, email.split("@")[0], token, "203.0.113.77", "?email", "pas le bon mot de passe"):
        assert leaked not in text


def test_request_id_header_is_generated_when_absent_or_malformed(client):
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    replaced = client.get("/healthz", headers={"X-Request-ID": "jean.dupont@example.org"}).headers["X-Request-ID"]
    assert "@" not in replaced and len(replaced) == 32


@pytest.mark.parametrize("path, shown", [
    ("/reassort/lien/WzEsMF0.aBcDeF.GhIjKl", "/reassort/lien/<masqué>"),
    ("/activation/WzEsMF0.aBcDeF.GhIjKl", "/activation/<masqué>"),
    ("/x/jean.dupont@example.org/y", "/x/<masqué>/y"),
    ("/x/jean.dupont%40example.org", "/x/<masqué>"),
    ("/x/" + "A" * 30, "/x/<masqué>"),
    ("/vote", "/vote"),
    ("/static/css/reassort.css", "/static/css/reassort.css"),
])
def test_redact_path(path, shown):
    assert redact_path(path) == shown


def test_log_messages_lose_tokens_and_addresses():
    import logging
    # Flask's own line for an unhandled exception quotes the path.
    record = logging.getLogger("app").makeRecord(
        "app", logging.ERROR, __file__, 1, "Exception on %s [%s] (%s)",
        ("/reassort/lien/WzEsMF0.aBcDeF.GhIjKl", "POST", "jean.dupont@example.org"), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "Exception on /reassort/lien/<masqué> [POST] (<masqué>)"


def test_logged_exception_keeps_its_type_and_stack_not_its_message():
    import logging
    message = "ligne refusée pour jean.dupont@example.org"
    try:
        raise ValueError(message)
    except ValueError:
        record = logging.getLogger("reassort").makeRecord(
            "reassort", logging.ERROR, __file__, 1, "échec", (), sys.exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["exception"] == "ValueError" and "test_production.py" in line["stack"]
    assert "jean.dupont" not in json.dumps(line)


# --- purge: tests/test_purge.py ------------------------------------------------------------
