"""The réassort procedure: challenge, link, regeneration (SPEC §1 steps 4, 6, 7; §2).

Plain functions over a SQLAlchemy session; settings, time and the client's hash
come through ``reassort.runtime``.  The views parse forms, check the poll is not
closed (``reassort.web.guards``) and render what these return.  The destination
typed by the voter (mobile or personal e-mail) is an argument used for one send
and never stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.adapters import messaging
from reassort.procedures import accounts, audit, links, notices, quotas, sending, votegate
from reassort.rules import codes, identifiers, throttle, tokens
from reassort.rules.hashing import digest_equal, normalise_answer
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
SEND_UNCERTAIN = "send_uncertain"  # no answer in time after the message left: it may arrive (and works)
CHANNEL_DOWN = "channel_down"  # the channel's provider is being skipped (failing lately) or busy: another way

LINK_PATH = "/reassort/lien/"
CAP_SETTINGS = {"sms": "SMS_SENDS_PER_HOUR", "email": "EMAIL_SENDS_PER_HOUR"}


#: The voter's counters (SEC-41): wrong answers since the last lock or right answer, links this hour.
FAILURES = quotas.RowCounter(Voter.challenge_failures)
LINKS = quotas.RowCounter(Voter.links_in_window, Voter.link_window_start, 3600)


@dataclass(frozen=True)
class LinkRequest:
    outcome: str
    retry_after: int = 0


def is_locked(voter: Voter) -> bool:
    return voter.challenge_locked_until > runtime.now_int()


def challenge_status(voter: Voter) -> throttle.ChallengeStatus:
    """What the challenge page says: attempts left before a lock, or the instant the lock ends."""
    return throttle.challenge_status(voter.challenge_failures, voter.challenge_locked_until,
                                     runtime.setting("CHALLENGE_MAX_FAILURES"), runtime.now_int())


def challenge_matches(voter: Voter, answer: str, identifier: str) -> bool:
    """Answer and NUMEN/NIR both right?  One path, the same work either way (SEC-02)."""
    pepper = runtime.pepper()
    answer_ok = accounts.check_secret(normalise_answer(answer), voter.answer_hash)
    kind, value = identifiers.classify(identifier) or ("none", identifiers.compact(identifier))
    numen_ok = digest_equal(voter.numen_digest, identifiers.numen_digest(pepper, value)) and kind == "numen"
    nir_ok = digest_equal(voter.nir_digest, identifiers.nir_digest(pepper, value)) and kind == "nir"
    return answer_ok & (numen_ok | nir_ok)


def new_generation(current: int) -> int:
    """A fresh random link generation, never the current one (``tokens.fresh_generation``).

    Random rather than ``current + 1``: a link whose recording failed after it was
    sent can never come back to life when a later link records the next number.
    """
    return tokens.fresh_generation(current)


def link_url(voter_id: int, generation: int) -> str:
    """The link sent, built from ``PUBLIC_URL`` and never the Host header (SEC-16)."""
    return links.url(LINK_PATH, links.make(tokens.REISSUE, voter_id, generation))


def request_by_challenge(s: Session, voter: Voter, answer: str, identifier: str,
                         channel: str, destination: str, checked: Callable[[], None] = lambda: None) -> LinkRequest:
    """Check the challenge and send a link to ``destination`` on ``channel`` ("sms"/"email").

    ``checked`` is called once the bcrypt work is done, before the send (the web layer
    gives the request's bcrypt place back then: the send may be slow).

    The attempt is counted as a failure *before* the bcrypt check, by one conditional
    UPDATE that also refuses while locked: N simultaneous wrong answers count N, and
    no more than ``CHALLENGE_MAX_FAILURES`` are ever checked (SEC-41).  A right answer
    then clears the count.
    """
    if not sending.channel_open(channel):
        # Said before anything is counted or checked: the voter picks another way at once.
        return LinkRequest(CHANNEL_DOWN)
    now = runtime.now_int()
    maximum = runtime.setting("CHALLENGE_MAX_FAILURES")
    attempt = quotas.take(s, FAILURES, voter.id, maximum, now, also=(Voter.challenge_locked_until <= now,),
                          returning=(Voter.challenge_lock_level,))
    if attempt is None:
        audit.record(s, "challenge_locked", voter.id, "refused")
        s.commit()
        until = s.scalar(select(Voter.challenge_locked_until).where(Voter.id == voter.id)) or 0
        return LinkRequest(LOCKED, max(0, until - now))
    if not challenge_matches(voter, answer, identifier):
        audit.record(s, "challenge_failed", voter.id)
        s.commit()
        if attempt.number >= maximum:
            _lock(s, voter.id, attempt.returned["challenge_lock_level"], now)
        return LinkRequest(WRONG)
    # Right: this attempt was no failure, and it ends the row of locks (the next one is short again).
    s.execute(update(Voter).where(Voter.id == voter.id).values(challenge_failures=0, challenge_lock_level=0)
              .execution_options(synchronize_session=False))
    s.commit()
    accounts.upgrade_hash(s, voter.id, Voter.answer_hash, voter.answer_hash, normalise_answer(answer))
    checked()
    return send_link(s, voter, channel, destination)


def _lock(s: Session, voter_id: int, level: int, now: int) -> None:
    """The attempt that reached the maximum was wrong: close the path, twice as long as the lock before.

    A compare-and-swap on the lock level: of two finishing together, one locks.  A
    temporary throttle, never a permanent lock; FranceConnect stays open.
    """
    seconds = throttle.lock_seconds(runtime.setting("CHALLENGE_LOCK_SECONDS"), level)
    done = s.execute(
        update(Voter)
        .where(Voter.id == voter_id, Voter.challenge_lock_level == level,
               Voter.challenge_failures >= runtime.setting("CHALLENGE_MAX_FAILURES"))
        .values(challenge_failures=0, challenge_locked_until=now + seconds, challenge_lock_level=level + 1)
        .execution_options(synchronize_session=False))
    if changed_rows(done) == 1:
        audit.record(s, "challenge_locked", voter_id, "started")
    s.commit()


def send_link(s: Session, voter: Voter, channel: str, destination: str, path: str = audit.DEFI) -> LinkRequest:
    """Send the voter a new single-use link, voiding older ones (shared by FranceConnect).

    ``path`` (``audit.DEFI`` or ``audit.FRANCECONNECT``) is written in the audit details.

    The voter's place this hour and the channel's global place are both reserved
    before the message leaves (SEC-41); the link is recorded as the current one
    before it leaves too, so that a link delivered always works; all is given back
    if our delivery fails (``sending.send_recorded``).
    """
    now = runtime.now_int()
    if not sending.channel_open(channel):
        return LinkRequest(CHANNEL_DOWN)
    place = quotas.take(s, LINKS, voter.id, runtime.setting("LINKS_PER_HOUR"), now)
    if place is None:
        audit.record(s, "throttled", voter.id, audit.path_detail(path, "links_per_hour"))
        s.commit()
        return LinkRequest(TOO_MANY_LINKS, max(0, quotas.window_ends(s, LINKS, voter.id) - now))
    reservation = quotas.reserve(f"{runtime.setting(CAP_SETTINGS[channel])} per hour", "global-sends", channel)
    if reservation is None:
        place.give_back(s)  # nothing sent: the voter is not charged for the global cap
        audit.record(s, "throttled", voter.id, audit.path_detail(path, f"global_cap_{channel}"))
        s.commit()
        return LinkRequest(CAPPED)
    generation = new_generation(voter.link_generation)
    url = link_url(voter.id, generation)
    minutes = max(1, runtime.setting("REISSUE_LINK_MAX_AGE") // 60)
    if channel == "sms":
        message = messaging.render_sms("reissue_link", destination, link=url, minutes=minutes)
    else:
        message = messaging.render_email("reissue_link", destination, link=url, minutes=minutes, voter=voter)
    outcome = sending.send_recorded(
        s, message, sending.generation_swap(Voter.link_generation, voter.id, generation),
        give_back=(reservation.give_back, lambda: place.give_back(s)))
    if outcome.status == sending.SENT:
        try:
            audit.record_now(s, "link_requested", voter.id, audit.path_detail(path, channel))
        except SQLAlchemyError as exc:
            # The link is out and works: the voter is told so, the missing row is logged.
            s.rollback()
            log.error("lien envoyé mais non inscrit au journal d'audit : %s", type(exc).__name__,
                      extra={"event": "audit_lost", "audit_event": "link_requested", "voter_id": voter.id})
        return LinkRequest(SENT)
    audit.record_now(s, "link_send_failed", voter.id, audit.path_detail(path, channel))
    return LinkRequest({sending.UNCERTAIN: SEND_UNCERTAIN, sending.UNAVAILABLE: CHANNEL_DOWN}
                       .get(outcome.status, SEND_FAILED))


def voter_for_link(s: Session, token: str | None) -> tuple[Voter, int] | None:
    """The voter and generation of a genuine, unexpired, latest, unused link, else ``None``.

    Every refusal is audited: a genuine link with its voter and why (``expired``,
    ``used``, ``superseded``); a missing or forged one only counted (SPEC §2).  The
    caller shows the same page whatever the reason (SEC-03).
    """
    found = links.presented(s, tokens.REISSUE, token, runtime.setting("REISSUE_LINK_MAX_AGE"), "link_invalid")
    if found is None:
        return None
    voter = found.voter
    if voter.link_generation != found.generation:
        reason = "used" if voter.link_used_generation == found.generation else "superseded"
    elif found.expired:
        reason = "expired"
    else:
        return voter, found.generation
    audit.record_now(s, "link_invalid", voter.id, reason)
    return None


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
                link_generation=new_generation(generation), link_used_generation=generation,
                session_epoch=Voter.session_epoch + 1)
        .execution_options(synchronize_session=False))
    if changed_rows(result) != 1:
        s.rollback()
        audit.record_now(s, "regeneration_conflict", voter_id)
        return None
    audit.record(s, "code_regenerated", voter_id)
    # The notice to the address of record (SEC-24, never the code) is queued in the same
    # transaction and leaves after the response (``notices``): nothing slow before the reveal.
    notices.enqueue(s, "code_changed", voter_id)
    s.commit()
    # Refreshed in place: the request's current voter is this very object (its new epoch).
    voter = s.get(Voter, voter_id, populate_existing=True)
    assert voter is not None  # noqa: S101  (the row was just updated; voters are never deleted mid-poll)
    return Regeneration(code=code, session_epoch=voter.session_epoch)
