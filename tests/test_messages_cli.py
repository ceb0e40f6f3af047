"""Deliverability before the poll (issue 16 item 6): ``messages test --to FILE``.

Against the real servers of ``tests/servers.py``: aiosmtpd on loopback and the HTTP
SMS gateway.  The message is the réassort's own, its link dead.
"""

from __future__ import annotations

import re

import pytest

from reassort.procedures import links
from reassort.rules import tokens

SEEDS = """# boîtes et téléphones de l'équipe
equipe.test@gmail.com
Equipe.Test@orange.fr   # Orange
equipe.test@yahoo.fr

06 12 34 56 78
+590 690 12 34 56
"""


@pytest.fixture
def settings(settings, smtp_server, gateway):
    settings.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_TIMEOUT=2,
                    SMS_BACKEND="http", SMS_HTTP_URL=gateway.url, SMS_HTTP_AUTH="Bearer jeton-de-test",
                    SMS_HTTP_TIMEOUT=0.5)
    return settings


@pytest.fixture
def seeds(tmp_path):
    path = tmp_path / "seeds.txt"
    path.write_text(SEEDS, encoding="utf-8")
    return str(path)


def test_messages_test_sends_the_real_message_on_every_provider(runner, app, seeds, smtp_server, gateway):
    result = runner.invoke(args=["messages", "test", "--to", seeds])
    assert result.exit_code == 0, result.output
    mails = smtp_server.handler.messages
    assert sorted(m["To"] for m in mails) == ["Equipe.Test@orange.fr", "equipe.test@gmail.com",
                                             "equipe.test@yahoo.fr"]
    assert {m["Subject"] for m in mails} == {"Votre lien pour obtenir un nouveau code de vote"}
    assert [r["json"]["to"] for r in gateway.requests] == ["+33612345678", "+590690123456"]
    out = result.stdout
    assert f"courriel par smtp (127.0.0.1:{smtp_server.port}) :" in out
    assert f"SMS par http (127.0.0.1:{gateway.url.split(':')[2].split('/')[0]}) :" in out
    assert "equipe.test@gmail.com : accepté" in out and "+33612345678 : accepté" in out
    assert re.search(r"smtp \(.*\) : 3 accepté\(s\), 0 refusé\(s\)", out)
    assert re.search(r"http \(.*\) : 2 accepté\(s\), 0 refusé\(s\)", out)
    assert "jeton-de-test" not in result.output


def test_messages_test_link_has_the_real_shape_and_opens_nothing(runner, app, client, seeds, smtp_server,
                                                               gateway):
    runner.invoke(args=["messages", "test", "--to", seeds])
    body = smtp_server.handler.messages[0].get_content()
    link = re.search(r"https://vote\.example\.fr/reassort/lien/(\S+)", body)
    assert link, body
    token = link.group(1)
    with app.app_context():
        genuine = links.make(tokens.REISSUE, 1, 1)
        assert links.read(tokens.REISSUE, token, 600) is None
    assert abs(len(token) - len(genuine)) <= 2
    assert re.search(r"/reassort/lien/\S+", gateway.requests[0]["json"]["text"])
    response = client.get(f"/reassort/lien/{token}")
    assert response.status_code == 400 and "Ce lien n'est pas valide" in response.get_data(as_text=True)


def test_messages_test_reports_what_each_provider_refused(runner, app, seeds, smtp_server, gateway):
    smtp_server.handler.refuse = True
    gateway.status = 500
    result = runner.invoke(args=["messages", "test", "--to", seeds])
    assert result.exit_code == 1
    assert result.stdout.count(": REFUSÉ —") == 5
    assert re.search(r"smtp \(.*\) : 0 accepté\(s\), 3 refusé\(s\)", result.stdout)
    assert re.search(r"http \(.*\) : 0 accepté\(s\), 2 refusé\(s\)", result.stdout)


def test_messages_test_refuses_a_bad_seed_file_and_sends_nothing(runner, app, tmp_path, smtp_server, gateway):
    path = tmp_path / "seeds.txt"
    path.write_text("equipe@gmail.com\npas une adresse\n01 23 45 67 89\njean@\n", encoding="utf-8")
    result = runner.invoke(args=["messages", "test", "--to", str(path)])
    assert result.exit_code == 1
    assert "ligne 2 : ni une adresse électronique ni un numéro de mobile français" in result.stderr
    assert "ligne 3 :" in result.stderr and "ligne 4 : adresse électronique invalide" in result.stderr
    assert "rien n'a été envoyé" in result.stderr
    assert smtp_server.handler.messages == [] and gateway.requests == []


@pytest.mark.parametrize("content", [b"", b"# rien\n\n", b"\xff\xfe\x00"])
def test_messages_test_needs_a_readable_non_empty_seed_file(runner, app, tmp_path, content):
    path = tmp_path / "seeds.txt"
    path.write_bytes(content)
    result = runner.invoke(args=["messages", "test", "--to", str(path)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    missing = runner.invoke(args=["messages", "test", "--to", str(tmp_path / "absent.txt")])
    assert missing.exit_code == 1 and "Lecture impossible" in missing.stderr
