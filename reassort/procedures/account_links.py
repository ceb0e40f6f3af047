"""Forgotten password and lost activation mail (SPEC §1b, SEC-49).

Two neutral forms — « Mot de passe oublié ? » and « Je n'ai pas reçu mon lien
d'activation » — share one procedure in two halves:

- :func:`request_link`, before the answer: the CAPTCHA, the per-address place, one
  look-up of the address and one audit row.  The same work whether the address is
  an activated voter's, a voter's not yet activated or nobody's; it only names the
  voter to write to.
- :func:`send_link`, after the answer (the view hands it to
  ``reassort.web.after_response``): the link the voter's state calls for, to the
  address of record only — a forgotten-password link to an activated account, a new
  activation link to one not yet activated (whichever form was used: the voter who
  never activated gets the activation path by the same neutral page).  Its places in
  ``LINKS_PER_HOUR`` and the global e-mail cap are reserved first (SEC-41), given
  back if our delivery fails.

The forgotten-password link carries ``password_generation`` under its own salt; a new
link, the reset and a password change each draw a new one (single use, latest only).
"""

from __future__ import annotations

import logging

from sqlalchemy import update
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.adapters import messaging
from reassort.procedures import accounts, audit, links, notices, quotas, recovery, register
from reassort.rules import tokens
from reassort.storage.database import changed_rows
from reassort.storage.models import Voter

log = logging.getLogger("reassort")

# The two forms, and the two kinds of link.
PASSWORD = "password"  # noqa: S105  (a form's name) « Mot de passe oublié ? »
ACTIVATION = "activation"  # « Je n'ai pas reçu mon lien d'activation »
RESET = "password_reset"

REQUEST_EVENTS = {PASSWORD: "password_reset_requested", ACTIVATION: "activation_requested"}
RESET_PATH = "/mot-de-passe/lien/"

# What ``send_link`` did (the view has answered already: for the audit trail and the tests).
SENT, NOBODY, TOO_MANY_LINKS, CAPPED, SEND_FAILED = "sent", "nobody", "too_many_links", "capped", "send_failed"


def request_link(s: Session, form: str, email: str, captcha_ok: bool) -> int | None:
    """The part done before the answer: the id of the voter to write to, else ``None``; audited.

    A POST whose CAPTCHA is not solved looks nothing up and counts against no address
    (SEC-42).  A solved one reserves its place under the normalised address, known or
    not, before anything else (over ``ACCOUNT_LINKS_PER_ADDRESS``: ``quotas.OverLimit``,
    the 429 page, the same for every address).
    """
    event = REQUEST_EVENTS[form]
    if not captcha_ok:
        audit.record(s, event, None, "captcha")
        s.commit()
        return None
    typed = accounts.normalise_email(email)
    if quotas.per_address(runtime.setting("ACCOUNT_LINKS_PER_ADDRESS"), "account-links", typed) is None:
        raise quotas.OverLimit("account_links_per_address")
    voter_id = accounts.voter_id_by_email(s, typed)
    audit.record(s, event, voter_id)
    s.commit()
    return voter_id


def send_link(s: Session, voter_id: int | None) -> str:
    """Mail the voter the link their state calls for (after the answer); what happened.

    The place this hour (``LINKS_PER_HOUR``, shared with the réassort links) and the
    global e-mail cap are reserved before the mail leaves; the new generation is
    recorded only once the relay accepted it, so a failed send leaves the older link
    as it was.  Of two links sent at the same instant, the one recorded last works.
    """
    voter = s.get(Voter, voter_id) if voter_id is not None else None
    if voter is None or register.is_deactivated(voter):  # struck off: no link of any kind
        return NOBODY
    kind = RESET if voter.password_hash is not None else ACTIVATION
    now = runtime.now_int()
    place = quotas.take(s, recovery.LINKS, voter.id, runtime.setting("LINKS_PER_HOUR"), now)
    if place is None:
        audit.record_now(s, "throttled", voter.id, "account_links_per_hour")
        return TOO_MANY_LINKS
    cap = quotas.reserve(f"{runtime.setting(recovery.CAP_SETTINGS['email'])} per hour", "global-sends", "email")
    if cap is None:
        place.give_back(s)  # nothing sent: the voter is not charged for the global cap
        audit.record_now(s, "throttled", voter.id, "account_global_cap_email")
        return CAPPED
    current = voter.password_generation if kind == RESET else voter.activation_generation
    generation = tokens.fresh_generation(current)
    try:
        messaging.send_email(_message(voter, kind, generation))
    except messaging.DeliveryError as exc:
        s.rollback()
        cap.give_back()
        place.give_back(s)
        log.warning("envoi du lien de compte impossible (%s) : %s", kind, exc)
        audit.record_now(s, "account_link_send_failed", voter.id, kind)
        return SEND_FAILED
    if kind == RESET:
        recorded = update(Voter).where(Voter.id == voter.id, Voter.password_hash.is_not(None)) \
            .values(password_generation=generation)
    else:
        recorded = update(Voter).where(Voter.id == voter.id, Voter.password_hash.is_(None)) \
            .values(activation_generation=generation, activation_sent_at=now)
    if changed_rows(s.execute(recorded.execution_options(synchronize_session=False))) != 1:
        # Activated between the look-up and now: the link just sent names a generation that
        # was never recorded, so it is dead already.  The mail left all the same.
        log.info("lien de compte envoyé à un compte qui a changé d'état entre-temps (%s)", kind)
    audit.record(s, "password_reset_sent" if kind == RESET else "activation_sent", voter.id, "demande")
    s.commit()
    return SENT


def _message(voter: Voter, kind: str, generation: int) -> messaging.Message:
    if kind == RESET:
        link = links.url(RESET_PATH, links.make(tokens.PASSWORD_RESET, voter.id, generation))
        return messaging.render_email("password_reset", voter.email, voter=voter, link=link)
    return messaging.render_email("activation_requested", voter.email, voter=voter,
                                  link=accounts.activation_link(voter.id, generation))


def voter_for_reset(s: Session, token: str | None) -> tuple[Voter, int] | None:
    """The voter and generation of a genuine, unexpired, latest, unused reset link, else ``None``.

    Every refusal is audited: a genuine link with its voter and why (``expired``, or
    ``used_or_superseded``: the generation moved, by a reset, a newer link or a password
    change); a missing or forged one only counted.  The page is the same whatever the reason.
    """
    found = links.presented(s, tokens.PASSWORD_RESET, token, runtime.setting("PASSWORD_RESET_MAX_AGE"),
                            "password_reset_link_invalid")
    if found is None:
        return None
    voter = found.voter
    if voter.password_generation != found.generation or voter.password_hash is None:
        reason = "used_or_superseded"
    elif found.expired:
        reason = "expired"
    else:
        return voter, found.generation
    audit.record_now(s, "password_reset_link_invalid", voter.id, reason)
    return None


def reset_password(s: Session, voter_id: int, generation: int, password: str) -> bool:
    """Set the new password if the link is still the current one; every session of the voter ends.

    One UPDATE guarded by the generation (compare-and-swap): of two POSTs of one link
    exactly one changes the row, and the same statement kills the link and bumps the
    session epoch.  The vote code, the question défi and the réassort links are untouched.
    """
    result = s.execute(
        update(Voter)
        .where(Voter.id == voter_id, Voter.password_generation == generation, Voter.password_hash.is_not(None))
        .values(password_hash=accounts.hash_secret(password), password_generation=tokens.fresh_generation(generation),
                session_epoch=Voter.session_epoch + 1)
        .execution_options(synchronize_session=False))
    if changed_rows(result) != 1:
        s.rollback()
        audit.record_now(s, "password_reset_link_invalid", voter_id, "used_or_superseded")
        return False
    audit.record(s, "password_reset_ok", voter_id)
    notices.enqueue(s, "password_reset_done", voter_id)
    s.commit()
    return True
