"""Every mail carries a ``Date:`` and a ``Message-ID`` under the sender's domain (issue 17 §7).

Activation mails had no ``Date:`` and a Message-ID ending in ``@reassort``: both
make receiving servers score the mail as spam.  Checked on what a real SMTP
server (aiosmtpd on loopback) receives, for the mails of the command line and of
the web alike.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import io
import re

import pytest

from app import UnsafeConfiguration, create_app
from reassort.adapters.messaging import Message, smtp
from reassort.rules.mail import sender_domain
from tests.flows import ask_link

SENDER = "Élections professionnelles <ne-pas-repondre@vote.example.fr>"


@pytest.fixture
def settings(settings, smtp_server):
    settings.update(MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_TIMEOUT=2,
                    MAIL_FROM=SENDER)
    return settings


def assert_dated_and_identified(mail) -> None:
    sent = email.utils.parsedate_to_datetime(mail["Date"])
    assert sent.tzinfo is not None  # with its offset (RFC 5322)
    assert abs((dt.datetime.now(dt.timezone.utc) - sent).total_seconds()) < 300
    assert re.fullmatch(r"<[^<>@\s]+@vote\.example\.fr>", mail["Message-ID"]), mail["Message-ID"]


def test_activation_mails_carry_date_and_message_id_under_the_sender_domain(app, runner, make_voter, smtp_server):
    make_voter(activated=False)
    make_voter(activated=False)
    result = runner.invoke(args=["voters", "send-activation"])
    assert result.exit_code == 0, result.output
    mails = smtp_server.handler.messages
    assert len(mails) == 2
    for mail in mails:
        assert_dated_and_identified(mail)
    assert mails[0]["Message-ID"] != mails[1]["Message-ID"]


def test_the_envelope_names_the_senders_address_and_the_recipient_only(app, runner, make_voter, smtp_server):
    # smtplib is given the envelope (not left to parse it back out of the headers): the
    # command's mails and the web's alike go from MAIL_FROM's address to their one recipient.
    make_voter(activated=False, email="agent.martin@ac-lyon.fr")
    assert runner.invoke(args=["voters", "send-activation"]).exit_code == 0
    with app.app_context():
        smtp.send(Message("email", "jeanne.martin@ac-lyon.fr", "Objet", "Texte\n"), app.config)
    assert smtp_server.handler.envelopes == [("ne-pas-repondre@vote.example.fr", ["agent.martin@ac-lyon.fr"]),
                                             ("ne-pas-repondre@vote.example.fr", ["jeanne.martin@ac-lyon.fr"])]


def test_reassort_link_mail_carries_date_and_message_id(logged_in, smtp_server):
    client, _voter_id, _email = logged_in
    ask_link(client)
    [mail] = smtp_server.handler.messages
    assert_dated_and_identified(mail)


def test_message_id_falls_back_to_the_public_host_never_a_made_up_name():
    mail = smtp.build(Message("email", "a@b.fr", "Objet", "Texte"),
                      {"MAIL_FROM": "Élections", "PUBLIC_URL": "https://vote.example.fr"})
    assert mail["Message-ID"].endswith("@vote.example.fr>") and mail["Date"]


@pytest.mark.parametrize("sender, domain", [
    (SENDER, "vote.example.fr"),
    ("ne-pas-repondre@Vote.Example.FR", "vote.example.fr"),
    ("Élections <ne-pas-repondre@localhost>", ""),
    ("Élections professionnelles", ""),
    ("<@vote.example.fr>", ""),
])
def test_sender_domain(sender, domain):
    assert sender_domain(sender) == domain


def test_production_refuses_a_sender_without_a_domain(tmp_path):
    from tests.test_production import safe_production

    with pytest.raises(UnsafeConfiguration) as refused:
        create_app({**safe_production(tmp_path), "MAIL_FROM": "Élections professionnelles"})
    assert [p.split(" ", 1)[0] for p in refused.value.problems] == ["MAIL_FROM"]


@pytest.mark.parametrize("subject, body", [
    ("Objet", "Texte\n"),
    ("Votre code de vote a été modifié — élections professionnelles", "Bonjour Éléonore,\n" * 3),
    ("Un objet très long " * 8, "Une ligne bien trop longue pour un courriel ordinaire, " * 6 + "\n"),
])
@pytest.mark.parametrize("utf8", [False, True])
def test_mails_built_with_the_shared_headers_policy_are_the_default_policys_bytes(subject, body, utf8):
    from email import generator, policy

    config = {"MAIL_FROM": SENDER, "PUBLIC_URL": "https://vote.example.fr"}

    def flattened(mail, linesep: str) -> bytes:
        out = io.BytesIO()
        generator.BytesGenerator(out, policy=mail.policy.clone(utf8=utf8)).flatten(mail, linesep=linesep)
        return re.sub(rb"(Date|Message-ID): [^\r\n]*\r?\n", b"", out.getvalue())

    for _ in range(2):  # the second time from what was kept
        mail = smtp.build(Message("email", "jeanne.martin@ac-lyon.fr", subject, body), config)
        reference = smtp.build(Message("email", "jeanne.martin@ac-lyon.fr", subject, body), config)
        reference.policy = policy.default
        for name, value in list(reference.items()):  # the same values, parsed by the default policy
            del reference[name]
            reference[name] = str(value)
        for linesep in ("\n", "\r\n"):  # as_bytes(), then smtplib
            assert flattened(mail, linesep) == flattened(reference, linesep)


def test_the_shared_headers_policy_still_refuses_a_line_break_and_keeps_few_values():
    from reassort.adapters.messaging import mail_policy

    config = {"MAIL_FROM": SENDER, "PUBLIC_URL": "https://vote.example.fr"}
    smtp.build(Message("email", "a@b.fr", "Objet", "Texte"), config)
    with pytest.raises(ValueError):
        smtp.build(Message("email", "a@b.fr", "Objet\r\nBcc: x@y.fr", "Texte"), config)
    for n in range(mail_policy.LIMIT + 50):
        smtp.build(Message("email", "a@b.fr", f"Objet {n}", "Texte"), config).as_bytes()
    assert len(mail_policy._parsed) <= mail_policy.LIMIT and len(mail_policy._folded) <= mail_policy.LIMIT
