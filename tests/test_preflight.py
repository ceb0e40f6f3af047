"""The pre-flight (issue 17 §1): every one-mistake variant of the shipped example is refused, named.

The example file (``deploy/reassort.env.example``) with its ``CHANGE_ME`` filled in
is accepted; each variant below changes one thing and must be refused — by
``create_app`` (the service does not start) and by ``check-config`` (one pass, one
line naming the setting), or, for the services that do not answer, by
``check-config --connect`` (one failed line naming the service).  The services
are real: PostgreSQL and Redis of the machine, SMTP (aiosmtpd, STARTTLS with a
certificate of the test's own CA) and an HTTPS SMS gateway on loopback.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys

import pytest
from click.testing import CliRunner

from app import create_app
from reassort.cli.check_config import check_config
from reassort.settings import ConfigurationRefused
from reassort.storage import migrations
from reassort.storage.database import make_engine
from tests.servers import SMSGateway, SMTPTestServer, free_port
from tests.services import ROOT, clean_environ
from tests.tls import TestCA

EXAMPLE = os.path.join(ROOT, "deploy", "reassort.env.example")
PLACEHOLDERS = {"SECRET_KEY", "HASH_PEPPER", "DATABASE_URL", "RATELIMIT_STORAGE_URI", "SMTP_PASSWORD",
                "SMS_HTTP_AUTH", "FRANCECONNECT_CLIENT_ID", "FRANCECONNECT_CLIENT_SECRET", "METRICS_TOKEN"}


def read_env_file(path: str) -> dict[str, str]:
    """``KEY=value`` lines as systemd and the shell read them (single quotes around a value dropped)."""
    env = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition("=")
            if len(value) >= 2 and value[0] == value[-1] == "'":
                value = value[1:-1]
            env[key] = value
    return env


#: Every CHANGE_ME of the example replaced by a value of its own (all secret: none may be printed).
FILLINGS = {key: secrets.token_urlsafe(36) for key, value in read_env_file(EXAMPLE).items() if "CHANGE_ME" in value}


def filled_example(**changes) -> dict[str, str]:
    """The example with its placeholders filled, then ``changes`` (NAME=value, ``None`` removes)."""
    env = {key: value.replace("CHANGE_ME", FILLINGS.get(key, "")) for key, value in read_env_file(EXAMPLE).items()}
    for name, value in changes.items():
        key = name if name.startswith("REASSORT_") else f"REASSORT_{name}"
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


def run_check_config(env: dict, *args: str):
    """``check-config`` in this process, with exactly ``env`` as REASSORT_ variables."""
    cleared = {k: None for k in os.environ if k.startswith("REASSORT_")}
    return CliRunner().invoke(check_config, list(args), env={**cleared, **env})


def problem_lines(result) -> list[str]:
    return [line[4:] for line in result.stderr.splitlines() if line.startswith("  - ")]


def failed_checks(result) -> list[str]:
    return [line.strip() for line in result.output.splitlines() if line.strip().startswith("ÉCHEC")]


def assert_no_secret(text: str) -> None:
    for key, secret in FILLINGS.items():
        if key != "REASSORT_FRANCECONNECT_CLIENT_ID":  # an identifier, shown
            assert secret not in text, key


# --- the example itself -----------------------------------------------------------------

def test_the_filled_example_is_accepted(monkeypatch):
    result = run_check_config(filled_example())
    assert result.exit_code == 0, result.output
    assert "Configuration acceptée pour la production." in result.stdout
    assert_no_secret(result.output)
    for key, value in filled_example().items():
        monkeypatch.setenv(key, value)
    create_app()  # and the service starts on it


def test_check_config_names_every_placeholder_of_the_example_in_one_pass():
    result = run_check_config(read_env_file(EXAMPLE))
    assert result.exit_code == 1
    named = {line.split(" ", 1)[0] for line in problem_lines(result)}
    assert named == PLACEHOLDERS, problem_lines(result)
    assert all("CHANGE_ME" in line for line in problem_lines(result))


# --- one mistake each: refused at start and by check-config, named ------------------------

STATIC_MISTAKES = [
    # (id, change to the filled example, the setting named)
    ("opening-without-offset", {"ELECTION_OPENS_AT": "2026-12-01T09:00:00"}, "ELECTION_OPENS_AT"),
    ("opening-in-french-format", {"ELECTION_OPENS_AT": "01/12/2026 09:00"}, "ELECTION_OPENS_AT"),
    ("closing-without-offset", {"ELECTION_CLOSES_AT": "2026-12-08 17:00"}, "ELECTION_CLOSES_AT"),
    ("closing-before-opening", {"ELECTION_CLOSES_AT": "2026-11-30T17:00:00+01:00"}, "ELECTION_CLOSES_AT"),
    ("limit-per-minuet", {"RATELIMIT_PER_IP": "30 per minuet"}, "RATELIMIT_PER_IP"),
    ("account-limit-misspelt", {"LOGIN_LIMIT_PER_ACCOUNT": "10 per 15 minuts"}, "LOGIN_LIMIT_PER_ACCOUNT"),
    ("bcrypt-rounds-4", {"BCRYPT_ROUNDS": "4"}, "BCRYPT_ROUNDS"),
    ("proxy-count-0-behind-nginx", {"PROXY_COUNT": "0"}, "PROXY_COUNT"),
    ("reissue-link-life-0", {"REISSUE_LINK_MAX_AGE": "0"}, "REISSUE_LINK_MAX_AGE"),
    ("activation-link-life-0", {"ACTIVATION_LINK_MAX_AGE": "0"}, "ACTIVATION_LINK_MAX_AGE"),
    ("placeholder-left", {"SMTP_PASSWORD": "CHANGE_ME"}, "SMTP_PASSWORD"),
    ("misspelt-name", {"REASSORT_SMTP_PASWORD": "x"}, "SMTP_PASWORD"),
]


@pytest.mark.parametrize("change, setting", [m[1:] for m in STATIC_MISTAKES], ids=[m[0] for m in STATIC_MISTAKES])
def test_check_config_refuses_each_mistake_and_names_it(change, setting):
    result = run_check_config(filled_example(**change))
    assert result.exit_code == 1, result.output
    lines = problem_lines(result)
    assert len(lines) == 1, lines  # one mistake, one line
    assert re.match(rf"(REASSORT_)?{setting} : ", lines[0]), lines
    assert_no_secret(result.output)


@pytest.mark.parametrize("change, setting", [m[1:] for m in STATIC_MISTAKES], ids=[m[0] for m in STATIC_MISTAKES])
def test_the_app_refuses_to_start_on_each_mistake_and_names_it(monkeypatch, change, setting):
    for key in [k for k in os.environ if k.startswith("REASSORT_")]:
        monkeypatch.delenv(key)
    for key, value in filled_example(**change).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationRefused) as refused:
        create_app()
    assert [p for p in refused.value.problems if re.match(rf"(REASSORT_)?{setting} : ", p)], refused.value.problems


def test_check_config_lists_parse_errors_refusals_and_placeholders_together():
    env = {**read_env_file(EXAMPLE), "REASSORT_BCRYPT_ROUNDS": "4", "REASSORT_ELECTION_OPENS_AT": "2026-12-01T09:00",
           "REASSORT_SMTP_PASWORD": "x", "REASSORT_RATELIMIT_PER_IP": "30 per minuet"}
    result = run_check_config(env)
    named = {line.split(" ", 1)[0].removeprefix("REASSORT_") for line in problem_lines(result)}
    assert named == PLACEHOLDERS | {"BCRYPT_ROUNDS", "ELECTION_OPENS_AT", "SMTP_PASWORD", "RATELIMIT_PER_IP"}


def test_check_config_names_the_environment_when_it_is_not_production():
    result = run_check_config(filled_example(ENV="development"))
    assert result.exit_code == 1 and problem_lines(result)[0].startswith("ENV : ")


# --- flask --app app check-config, even when the app refuses to be built -------------------

def run_flask_check_config(env: dict, *args: str) -> subprocess.CompletedProcess:
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    return subprocess.run([flask, "--app", "app", "check-config", *args], cwd=ROOT, env=clean_environ(**env),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_flask_check_config_lists_everything_although_create_app_refuses():
    env = {**read_env_file(EXAMPLE), "REASSORT_SMTP_PASWORD": "x", "REASSORT_BCRYPT_ROUNDS": "4"}
    with pytest.raises(ConfigurationRefused):  # the app itself would stop at its own refusals
        from config import load
        load(environ=env)
    done = run_flask_check_config(env, "--quiet")
    assert done.returncode == 1, done.stderr
    named = {line[4:].split(" ", 1)[0].removeprefix("REASSORT_") for line in done.stderr.splitlines()
             if line.startswith("  - ")}
    assert named == PLACEHOLDERS | {"SMTP_PASWORD", "BCRYPT_ROUNDS"}, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_flask_check_config_accepts_the_filled_example():
    done = run_flask_check_config(filled_example())
    assert done.returncode == 0, done.stderr
    assert "Configuration acceptée pour la production." in done.stdout
    assert_no_secret(done.stdout + done.stderr)


def test_systemd_checks_the_configuration_before_every_start():
    with open(os.path.join(ROOT, "deploy", "reassort.service"), encoding="utf-8") as fh:
        unit = fh.read()
    assert re.search(r"^ExecStartPre=\S+/flask --app app check-config\b", unit, re.MULTILINE)


# --- check-config --connect: the services -------------------------------------------------

SMTP_USER, SMTP_SECRET = "reassort", FILLINGS["REASSORT_SMTP_PASSWORD"]
SMS_TOKEN = "Bearer " + FILLINGS["REASSORT_SMS_HTTP_AUTH"]


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    accepted = (auth_data.login, auth_data.password) == (SMTP_USER.encode(), SMTP_SECRET.encode())
    return AuthResult(success=accepted, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def ca(tmp_path):
    return TestCA(tmp_path)


@pytest.fixture
def tls_smtp(ca):
    with SMTPTestServer(tls_context=ca.server_context(), authenticator=_authenticator) as server:
        yield server


@pytest.fixture
def https_gateway(ca):
    with SMSGateway(tls_context=ca.server_context()) as gateway:
        yield gateway


@pytest.fixture
def services(postgres_url, redis_limits, tls_smtp, https_gateway, ca):
    """``make(migrate=True, **changes)``: the filled example pointed at the real services on loopback."""
    redis_url, _prefix = redis_limits

    def make(migrate=True, **changes) -> dict:
        if migrate:
            engine = make_engine(postgres_url)
            try:
                migrations.upgrade(engine)
            finally:
                engine.dispose()
        loopback = {"DATABASE_URL": postgres_url, "RATELIMIT_STORAGE_URI": redis_url,
                    "SMTP_HOST": "127.0.0.1", "SMTP_PORT": tls_smtp.port, "SMTP_TLS": "starttls",
                    "SMTP_USER": SMTP_USER, "SMS_HTTP_URL": https_gateway.url.replace("127.0.0.1", "localhost"),
                    "SMS_HTTP_CHECK_URL": https_gateway.check_url}
        return {**filled_example(**{**loopback, **changes}), **ca.trusting_environ()}

    return make


@pytest.mark.postgres
@pytest.mark.redis
def test_check_config_connect_reaches_every_service(services, https_gateway, tls_smtp):
    result = run_check_config(services(), "--connect")
    assert result.exit_code == 0, result.output
    lines = {match.group(1): line for line in result.stdout.splitlines()
             if (match := re.match(r"  ok\s+(.+?) : ", line))}
    assert set(lines) == {"base de données", "Redis (limites de débit)", "SMTP", "passerelle SMS"}, result.stdout
    assert "schéma à jour" in lines["base de données"]
    assert "STARTTLS (certificat vérifié), authentification ; aucun message envoyé" in lines["SMTP"]
    assert "aucun SMS envoyé" in lines["passerelle SMS"]
    assert https_gateway.requests == [] and tls_smtp.handler.messages == []  # nothing sent
    assert https_gateway.checks[-1]["headers"]["Authorization"] == SMS_TOKEN
    assert_no_secret(result.output)


CONNECT_MISTAKES = [
    # (id, change, what fails)
    ("database-not-answering", {"DATABASE_URL": "postgresql+psycopg://reassort:{secret}@127.0.0.1:{port}/reassort"},
     "base de données"),
    ("schema-never-created", {"migrate": False}, "base de données"),
    ("redis-not-answering", {"RATELIMIT_STORAGE_URI": "redis://:{secret}@127.0.0.1:{port}/0"},
     "Redis (limites de débit)"),
    ("smtp-not-answering", {"SMTP_PORT": "{port}"}, "SMTP"),
    ("sms-gateway-not-answering", {"SMS_HTTP_URL": "https://127.0.0.1:{port}/sms",
                                   "SMS_HTTP_CHECK_URL": "https://127.0.0.1:{port}/statut"}, "passerelle SMS"),
]


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("change, service", [m[1:] for m in CONNECT_MISTAKES], ids=[m[0] for m in CONNECT_MISTAKES])
def test_check_config_connect_names_the_service_that_fails(services, change, service):
    port, secret = free_port(), FILLINGS["REASSORT_SECRET_KEY"]
    change = {k: v.format(port=port, secret=secret) if isinstance(v, str) else v for k, v in change.items()}
    result = run_check_config(services(**change), "--connect", "--quiet")
    assert result.exit_code == 1
    failed = failed_checks(result)
    assert len(failed) == 1 and failed[0].startswith(f"ÉCHEC  {service} : "), result.output
    assert problem_lines(result) == []  # the settings themselves are right
    assert secret not in result.output
    if change.get("migrate") is False:
        assert "schéma absent" in failed[0] and "db upgrade" in failed[0]


@pytest.mark.postgres
@pytest.mark.redis
def test_check_config_connect_refuses_an_smtp_certificate_it_cannot_verify(services, monkeypatch):
    env = services()
    env["SSL_CERT_FILE"] = os.path.join(ROOT, "tests", "tls.py")  # trusts nothing
    failed = failed_checks(run_check_config(env, "--connect"))
    assert len(failed) == 1 and failed[0].startswith("ÉCHEC  SMTP : ") and "CERTIFICATE_VERIFY_FAILED" in failed[0]


@pytest.mark.postgres
@pytest.mark.redis
def test_check_config_connect_says_refused_credentials(services, https_gateway):
    https_gateway.check_status = 401
    result = run_check_config(services(SMTP_PASSWORD="pas-le-bon-mot-de-passe"), "--connect")
    failed = failed_checks(result)
    assert failed == ["ÉCHEC  SMTP : authentification refusée (code 535)",
                      "ÉCHEC  passerelle SMS : identifiants refusés (HTTP 401)"], result.output
    assert "pas-le-bon-mot-de-passe" not in result.output


@pytest.mark.postgres
@pytest.mark.redis
def test_check_config_connect_without_a_test_address_checks_tls_only(services, https_gateway):
    result = run_check_config(services(SMS_HTTP_CHECK_URL=None), "--connect")
    assert result.exit_code == 0, result.output
    assert "connexion et certificat TLS vérifiés ; identifiants non vérifiés" in result.stdout
    assert https_gateway.requests == [] and https_gateway.checks == []


@pytest.mark.postgres
@pytest.mark.redis
def test_check_config_connect_skips_a_service_whose_settings_are_wrong(services):
    result = run_check_config(services(SMTP_PORT="vingt-cinq"), "--connect")
    assert result.exit_code == 1
    assert [line.split(" ", 1)[0] for line in problem_lines(result)] == ["REASSORT_SMTP_PORT"]
    assert failed_checks(result) == ["ÉCHEC  SMTP : non vérifié : SMTP_PORT invalide"]
