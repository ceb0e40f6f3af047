"""The réassort procedure: challenge, link, regeneration (SPEC §1 steps 4, 6, 7; §2).

Plain functions over a SQLAlchemy session; settings, time and the client's hash
come through ``reassort.runtime``.  The views parse forms, check the poll is not
closed (``reassort.web.guards``) and render what these return.  The destination
typed by the voter (mobile or personal e-mail) is an argument used for one send
and never stored.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.adapters import messaging
from reassort.procedures import audit, links, quotas, register, votegate
from reassort.rules import codes, identifiers, tokens
from reassort.rules.hashing import bcrypt_check, digest_equal, normalise_answer
from reassort.storage.database import changed_rows
from reassort.storage.models import Voter

log = logging.getLogger("reassort")

# Outcomes of a link request, each rendered by the view as its own message.
SENT = "sent"
WRONG = "wrong"              # answer and/or identifier wrong: one message (SEC-01)
LOCKED = "locked"            # too many wrong answers: temporary (SEC-08)
TOO_MANY_LINKS = "too_many_links"
CAPPED = "capped"            # global cap on sends reached (SEC-10)
SEND_FAILED = "send_failed"  # our failure: nothing counted, nothing changed

LINK_PATH = "/reassort/lien/"
CAP_SETTINGS = {"sms": "SMS_SENDS_PER_HOUR", "email": "EMAIL_SENDS_PER_HOUR"}


@dataclass(frozen=True)
class LinkRequest:
    outcome: str
    retry_after: int = 0


def is_locked(voter: Voter) -> bool:
    return voter.challenge_locked_until > runtime.now_int()


def challenge_matches(voter: Voter, answer: str, identifier: str) -> bool:
    """Answer and NUMEN/NIR both right?  One path, the same work either way (SEC-02)."""
    pepper = runtime.pepper()
    answer_ok = bcrypt_check(normalise_answer(answer), voter.answer_hash, runtime.setting("BCRYPT_ROUNDS"))
    kind, value = identifiers.classify(identifier) or ("none", identifiers.compact(identifier))
    numen_ok = digest_equal(voter.numen_digest, identifiers.numen_digest(pepper, value)) and kind == "numen"
    nir_ok = digest_equal(voter.nir_digest, identifiers.nir_digest(pepper, value)) and kind == "nir"
    return answer_ok & (numen_ok | nir_ok)


def _links_in_this_hour(voter: Voter, now: int) -> int:
    return voter.links_in_window if now - voter.link_window_start < 3600 else 0


def new_generation(current: int) -> int:
    """A fresh random link generation, never the current one.

    Random rather than ``current + 1``: a link whose recording failed after it was
    sent can never come back to life when a later link records the next number.
    """
    while True:
        generation = secrets.randbelow(2**31 - 1) + 1
        if generation != current:
            return generation


def link_url(voter_id: int, generation: int) -> str:
    """The link sent, built from ``PUBLIC_URL`` and never the Host header (SEC-16)."""
    return links.url(LINK_PATH, links.make(tokens.REISSUE, voter_id, generation))


def request_by_challenge(s: Session, voter: Voter, answer: str, identifier: str,
                         channel: str, destination: str) -> LinkRequest:
    """Check the challenge and send a link to ``destination`` on ``channel`` ("sms"/"email")."""
    now = runtime.now_int()
    if is_locked(voter):
        audit.record(s, "challenge_locked", voter.id, "refused")
        s.commit()
        return LinkRequest(LOCKED, voter.challenge_locked_until - now)
    if not challenge_matches(voter, answer, identifier):
        failures = voter.challenge_failures + 1
        values = {"challenge_failures": failures}
        audit.record(s, "challenge_failed", voter.id)
        if failures >= runtime.setting("CHALLENGE_MAX_FAILURES"):
            # A temporary throttle, never a permanent lock; FranceConnect stays open.
            values = {"challenge_failures": 0,
                      "challenge_locked_until": now + runtime.setting("CHALLENGE_LOCK_SECONDS")}
            audit.record(s, "challenge_locked", voter.id, "started")
        s.execute(update(Voter).where(Voter.id == voter.id).values(**values)
                  .execution_options(synchronize_session=False))
        s.commit()
        return LinkRequest(WRONG)
    s.execute(update(Voter).where(Voter.id == voter.id).values(challenge_failures=0)
              .execution_options(synchronize_session=False))
    return send_link(s, voter, channel, destination)


def send_link(s: Session, voter: Voter, channel: str, destination: str) -> LinkRequest:
    """Send the voter a new single-use link, voiding older ones (shared by FranceConnect)."""
    now = runtime.now_int()
    in_hour = _links_in_this_hour(voter, now)
    if in_hour >= runtime.setting("LINKS_PER_HOUR"):
        audit.record(s, "throttled", voter.id, "links_per_hour")
        s.commit()
        return LinkRequest(TOO_MANY_LINKS, voter.link_window_start + 3600 - now)
    reservation = quotas.reserve(f"{runtime.setting(CAP_SETTINGS[channel])} per hour", "global-sends", channel)
    if reservation is None:
        audit.record(s, "throttled", voter.id, f"global_cap_{channel}")
        s.commit()
        return LinkRequest(CAPPED)
    generation = new_generation(voter.link_generation)
    url = link_url(voter.id, generation)
    minutes = max(1, runtime.setting("REISSUE_LINK_MAX_AGE") // 60)
    try:
        if channel == "sms":
            messaging.send_sms(messaging.render_sms("reissue_link", destination, link=url, minutes=minutes))
        else:
            messaging.send_email(messaging.render_email("reissue_link", destination, link=url, minutes=minutes,
                                                        voter=voter))
    except messaging.DeliveryError as exc:
        # Our failure: no link counts as sent and neither the voter nor the cap is charged.
        s.rollback()
        reservation.give_back()
        log.warning("envoi du lien impossible (canal %s) : %s", channel, exc)
        audit.record_now(s, "link_send_failed", voter.id, channel)
        return LinkRequest(SEND_FAILED)
    window_start = voter.link_window_start if in_hour else now
    s.execute(update(Voter).where(Voter.id == voter.id).values(
        link_generation=generation, link_window_start=window_start, links_in_window=in_hour + 1)
        .execution_options(synchronize_session=False))
    audit.record(s, "link_requested", voter.id, channel)
    s.commit()
    return LinkRequest(SENT)


def voter_for_link(s: Session, token: str) -> tuple[Voter, int] | None:
    """The voter and generation of a genuine, unexpired, latest, unused link, else ``None``."""
    claim = links.read(tokens.REISSUE, token, runtime.setting("REISSUE_LINK_MAX_AGE"))
    if claim is None:
        return None
    voter = s.get(Voter, claim.voter_id)
    if voter is None or voter.link_generation != claim.generation or register.is_deactivated(voter):
        return None
    return voter, claim.generation


@dataclass(frozen=True)
class Regeneration:
    code: str
    session_epoch: int


def regenerate(s: Session, voter_id: int, generation: int) -> Regeneration | None:
    """Replace the voter's code at once, if the link is still the current one.

    One UPDATE guarded by the link generation (compare-and-swap): of two
    concurrent POSTs of one link exactly one changes the row.  The same UPDATE
    voids every link and ends the voter's other sessions.
    """
    code = codes.generate()
    result = s.execute(
        update(Voter)
        .where(Voter.id == voter_id, Voter.link_generation == generation, Voter.deactivated_at.is_(None))
        .values(code_digest=votegate.code_digest(code), code_issued_at=runtime.now_int(),
                link_generation=new_generation(generation), session_epoch=Voter.session_epoch + 1)
        .execution_options(synchronize_session=False))
    if changed_rows(result) != 1:
        s.rollback()
        audit.record_now(s, "regeneration_conflict", voter_id)
        return None
    audit.record(s, "code_regenerated", voter_id)
    s.commit()
    voter = s.get(Voter, voter_id, populate_existing=True)
    assert voter is not None  # noqa: S101  (the row was just updated; voters are never deleted mid-poll)
    _notify_change(voter)
    return Regeneration(code=code, session_epoch=voter.session_epoch)


def _notify_change(voter: Voter) -> None:
    """Tell the address of record that the code changed, never the code (SEC-24)."""
    try:
        messaging.send_email(messaging.render_email("code_changed", voter.email, voter=voter))
    except messaging.DeliveryError as exc:
        log.warning("avis de changement de code non envoyé : %s", exc)
