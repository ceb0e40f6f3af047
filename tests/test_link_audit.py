"""A refused link whose signature is genuine is audited with its voter and why: used, expired or
superseded (SPEC §2 audit trail); a forged or missing one is only counted; the page is the
same for everyone (SEC-03)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from reassort.procedures import audit, links
from reassort.rules import tokens
from reassort.storage.models import AuditEvent
from reassort.web.extensions import db
from tests.conftest import page_text
from tests.flows import ask_link, last_link, link_path, open_link, regenerate

pytestmark = pytest.mark.each_database


def refusals(app) -> list[tuple[int | None, str | None]]:
    with app.app_context():
        with db.new_session() as s:
            return [(e.voter_id, e.detail) for e in
                    s.scalars(select(AuditEvent).where(AuditEvent.event == "link_invalid").order_by(AuditEvent.id))]


def tallied(app) -> dict:
    with app.app_context():
        with db.new_session() as s:
            return audit.tallies(s)


def test_replayed_expired_and_superseded_links_are_audited_with_the_voter_and_the_reason(app, logged_in, outbox,
                                                                                         clock):
    client, voter_id, _ = logged_in
    ask_link(client)
    superseded = last_link(outbox())
    ask_link(client)
    used = last_link(outbox())
    assert regenerate(client, used).status_code == 200
    ask_link(client)
    expiring = last_link(outbox())
    clock.advance(app.config["REISSUE_LINK_MAX_AGE"] + 1)
    stranger = app.test_client()  # the voter is known from the link alone, without a portal session
    pages = [open_link(stranger, used), open_link(stranger, expiring), open_link(stranger, superseded)]
    assert refusals(app) == [(voter_id, "used"), (voter_id, "expired"), (voter_id, "superseded")]
    # One page for all (SEC-03): nothing tells the reasons apart.
    assert {p.status_code for p in pages} == {400}
    assert len({re.sub(r'value="[^"]*"', "", p.get_data(as_text=True)) for p in pages}) == 1
    assert all("Ce lien n'est pas valide" in page_text(p) for p in pages)


def test_a_link_expiring_in_the_session_is_audited_at_the_regeneration_page(app, logged_in, outbox, clock):
    client, voter_id, _ = logged_in
    ask_link(client)
    assert open_link(client, last_link(outbox())).status_code == 303
    clock.advance(app.config["REISSUE_LINK_MAX_AGE"] + 1)
    assert client.get("/reassort/regenerer").status_code == 400
    assert refusals(app) == [(voter_id, "expired")]


def test_forged_and_foreign_tokens_name_no_voter_and_are_only_counted(app, client, logged_in, outbox):
    _, voter_id, _ = logged_in
    ask_link(logged_in[0])
    token = link_path(last_link(outbox())).rsplit("/", 1)[1]
    with app.app_context():
        activation_token = links.make(tokens.ACTIVATION, voter_id, 5)  # genuine, but for another purpose
    for forged in (token[:-2] + "zz", activation_token, "WzEsMl0.aaaa.bbbb"):
        assert client.get("/reassort/lien/" + forged).status_code == 400
    assert refusals(app) == []
    assert tallied(app)[("link_invalid", "invalid")] == 3


def test_activation_links_refused_with_their_voter_and_reason(app, client, make_voter, clock):
    from tests.test_activation import activate, activation_token
    voter_id = make_voter(activated=False)
    older = activation_token(app, voter_id)
    newer = activation_token(app, voter_id)
    assert client.get(f"/activation/{older}").status_code == 400
    assert activate(client, newer).status_code == 302
    assert client.get(f"/activation/{newer}").status_code == 400
    waiting = make_voter(activated=False)
    expired = activation_token(app, waiting)
    clock.advance(app.config["ACTIVATION_LINK_MAX_AGE"] + 1)
    assert client.get(f"/activation/{expired}").status_code == 400
    with app.app_context():
        with db.new_session() as s:
            rows = [(e.voter_id, e.detail) for e in s.scalars(
                select(AuditEvent).where(AuditEvent.event == "activation_link_invalid").order_by(AuditEvent.id))]
    assert rows == [(voter_id, "superseded"), (voter_id, "used"), (waiting, "expired")]
