"""SEC-37: every attempt, refused and throttled ones too, leaves one audit event with
its time, its event, the voter's id (when known) and the keyed hash of the address —
except what carries nothing to attribute (a token that is not ours, no token at all) or
repeats a refusal already written: those are counted in the hour's tally (SEC-44).

Each case below is one attempt made through the web, and the events it adds are
compared whole: an audit call dropped on one path (a failed code, an invalid link)
fails its case.
"""

import pytest
from sqlalchemy import func, select

from reassort.rules.clock import utc_naive
from reassort.rules.hashing import digest
from reassort.storage.models import AuditEvent, AuditTally
from reassort.web.extensions import db
from tests.conftest import CODE, login, post_form
from tests.flows import ask_link, last_link, link_path, open_link, regenerate

VOTER = "voter"  # placeholder for the logged-in voter's id in the expectations
TALLY = "tally"  # (TALLY, event, detail): counted in the hour's tally, no row


def events_after(app, last_id: int) -> list[AuditEvent]:
    with app.app_context():
        with db.new_session() as s:
            return list(s.scalars(select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id)))


def tallies(app) -> dict[tuple[str, str], int]:
    with app.app_context():
        with db.new_session() as s:
            return {(t.event, t.detail): t.count for t in s.scalars(select(AuditTally))}


def last_event_id(app) -> int:
    with app.app_context():
        with db.new_session() as s:
            return s.scalar(select(func.coalesce(func.max(AuditEvent.id), 0)))


def tampered(link: str) -> str:
    # Not the last character: its low bits are base64 padding, so some changes decode the same.
    path = link_path(link)
    return path[:-5] + ("A" if path[-5] != "A" else "B") + path[-4:]


#: name → (preparation, expected events as (event, voter id or None, detail)).  A preparation
#: gets (client, outbox, email), does what must come first and returns the attempt itself.
CASES: dict = {}


def case(name, *expected):
    def register(prepare):
        CASES[name] = (prepare, list(expected))
        return prepare
    return register


def new_link(client, outbox) -> str:
    ask_link(client)
    return last_link(outbox())


# A wrong password records no voter id: the address typed is not taken as proof of who tried.
@case("login refused", ("login_failed", None, None))
def _login_refused(client, outbox, email):
    return lambda: login(client, email, "pas le bon mot de passe")


@case("login, unknown address", ("login_failed", None, None))
def _login_unknown(client, outbox, email):
    return lambda: login(client, "personne@education.gouv.fr")


@case("login", ("login_ok", VOTER, None))
def _login(client, outbox, email):
    return lambda: login(client, email)


@case("code refused", ("code_failed", VOTER, None))
def _code_refused(client, outbox, email):
    return lambda: post_form(client, "/vote", {"code": "Zz9#Zz9#Zz9#"})


@case("code accepted", ("code_ok", VOTER, None))
def _code_accepted(client, outbox, email):
    return lambda: post_form(client, "/vote", {"code": CODE})


@case("code throttled", ("throttled", VOTER, "portal.vote"))
def _code_throttled(client, outbox, email):
    for _ in range(10):  # VOTE_CODE_LIMIT_PER_VOTER
        post_form(client, "/vote", {"code": "Zz9#Zz9#Zz9#"})
    return lambda: post_form(client, "/vote", {"code": CODE})


@case("code throttled again", (TALLY, "throttled", "portal.vote"))
def _code_throttled_again(client, outbox, email):
    for _ in range(11):  # the limit, then the refusal written with the voter's id
        post_form(client, "/vote", {"code": "Zz9#Zz9#Zz9#"})
    return lambda: post_form(client, "/vote", {"code": CODE})


@case("challenge refused", ("challenge_failed", VOTER, None))
def _challenge_refused(client, outbox, email):
    return lambda: ask_link(client, answer="mauvaise réponse")


@case("link requested", ("link_requested", VOTER, "email"))
def _link_requested(client, outbox, email):
    return lambda: ask_link(client)


@case("link tampered", (TALLY, "link_invalid", "invalid"))
def _link_tampered(client, outbox, email):
    link = new_link(client, outbox)
    return lambda: client.get(tampered(link))


@case("link superseded", ("link_invalid", VOTER, "superseded"))
def _link_superseded(client, outbox, email):
    old = new_link(client, outbox)
    new_link(client, outbox)
    return lambda: open_link(client, old)


@case("link opened", ("link_opened", VOTER, None))
def _link_opened(client, outbox, email):
    link = new_link(client, outbox)
    return lambda: open_link(client, link)


@case("regeneration without a link", (TALLY, "link_invalid", "missing"))
def _regeneration_without_link(client, outbox, email):
    return lambda: client.get("/reassort/regenerer")


@case("code regenerated", ("code_regenerated", VOTER, None))
def _code_regenerated(client, outbox, email):
    open_link(client, new_link(client, outbox))
    return lambda: regenerate(client)


@case("activation link invalid", (TALLY, "activation_link_invalid", "invalid"))
def _activation_invalid(client, outbox, email):
    return lambda: client.get("/activation/pas-un-jeton")


@pytest.mark.parametrize("name", CASES)
def test_sec37_every_attempt_is_audited_with_time_voter_and_address_hash(app, logged_in, outbox, clock, name):
    client, voter_id, email = logged_in
    prepare, expected = CASES[name]
    attempt = prepare(client, outbox, email)
    clock.advance(7)  # the attempt's own time, distinct from the preparation's
    since, counted = last_event_id(app), tallies(app)
    attempt()
    added = events_after(app, since)
    assert [(e.event, e.voter_id, e.detail) for e in added] == [
        (event, voter_id if who == VOTER else who, detail) for event, who, detail in expected if event != TALLY]
    now_counted = tallies(app)
    assert {key: now_counted[key] - counted.get(key, 0) for key in now_counted
            if now_counted[key] != counted.get(key, 0)} == {
        (event, detail): 1 for kind, event, detail in expected if kind == TALLY}
    ip_hash = digest(app.config["HASH_PEPPER"], "ip", "127.0.0.1")[:16]
    for event in added:
        assert event.ip_hash == ip_hash
        assert event.at.replace(microsecond=0) == utc_naive(int(clock()))
