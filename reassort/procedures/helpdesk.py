"""The help desk's actions on one voter: look up their state, lift a suspension, resend activation.

Each action is audited with the operator's name and reason (``helpdesk_*`` events).
Nothing here reads or writes a secret: the state says *whether* a code was issued and
when, never the code nor its digest, and there is no action that sets a code
(a voter whose code is lost uses the réassort, or ``codes reissue``).  The operator
and the reason are checked by the command (``reassort.rules.operators``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.adapters import messaging
from reassort.procedures import accounts, audit, register
from reassort.procedures import activation_mailing as mailing
from reassort.rules.operators import detail
from reassort.storage.database import changed_rows
from reassort.storage.models import AuditEvent, Voter

RECENT_EVENTS = 10

SENT = "sent"
ALREADY_ACTIVE = "already_active"
DEACTIVATED = "deactivated"
SEND_FAILED = "send_failed"
SEND_UNCERTAIN = "send_uncertain"


def find(s: Session, ident: str) -> Voter | None:
    """The voter with this ``identifiant``, or with this address of record."""
    ident = (ident or "").strip()
    if not ident or "\x00" in ident:
        return None
    return s.scalar(select(Voter).where(or_(Voter.identifiant == ident,
                                            Voter.email == accounts.normalise_email(ident))))


@dataclass(frozen=True)
class VoterState:
    """What a help-desk agent may know of a voter: no secret, no digest."""

    identifiant: str
    nom: str
    prenoms: str
    email: str
    scrutins: list[str]
    activated: bool
    activation_sent_at: int | None
    code_issued_at: int | None
    has_code: bool
    locked_until: int | None
    challenge_failures: int
    max_failures: int
    links_this_hour: int
    links_per_hour: int
    links_window_ends_at: int | None
    deactivated_at: int | None
    recent: list[tuple] = field(default_factory=list)


def state(s: Session, voter: Voter) -> VoterState:
    now = runtime.now_int()
    in_window = now - voter.link_window_start < 3600
    recent = s.execute(select(AuditEvent.at, AuditEvent.event, AuditEvent.detail)
                       .where(AuditEvent.voter_id == voter.id)
                       .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(RECENT_EVENTS)).all()
    return VoterState(
        identifiant=voter.identifiant, nom=voter.nom, prenoms=voter.prenoms, email=voter.email,
        scrutins=[scrutin.name for scrutin in voter.scrutins],
        activated=voter.password_hash is not None, activation_sent_at=voter.activation_sent_at,
        code_issued_at=voter.code_issued_at, has_code=voter.code_digest is not None,
        locked_until=voter.challenge_locked_until if voter.challenge_locked_until > now else None,
        challenge_failures=voter.challenge_failures, max_failures=runtime.setting("CHALLENGE_MAX_FAILURES"),
        links_this_hour=voter.links_in_window if in_window else 0, links_per_hour=runtime.setting("LINKS_PER_HOUR"),
        links_window_ends_at=voter.link_window_start + 3600 if in_window and voter.links_in_window else None,
        # Deactivation belongs to ``voters deactivate`` (its own column, when the schema has it).
        deactivated_at=voter.deactivated_at,
        recent=[tuple(row) for row in recent])


def show(s: Session, voter: Voter, operator: str, reason: str) -> VoterState:
    """The voter's state, the consultation audited."""
    found = state(s, voter)
    audit.record(s, "helpdesk_show", voter.id, detail(operator, reason))
    s.commit()
    return found


def unlock(s: Session, voter_id: int, operator: str, reason: str) -> bool:
    """Lift the question défi's suspension and forget its wrong answers; whether there was anything to lift."""
    result = s.execute(update(Voter)
                       .where(Voter.id == voter_id,
                              or_(Voter.challenge_locked_until > runtime.now_int(), Voter.challenge_failures > 0))
                       .values(challenge_locked_until=0, challenge_failures=0)
                       .execution_options(synchronize_session=False))
    lifted = changed_rows(result) == 1
    audit.record(s, "helpdesk_unlock", voter_id, detail(operator, reason, "levee" if lifted else "rien_a_lever"))
    s.commit()
    return lifted


def resend_activation(s: Session, voter: Voter, operator: str, reason: str) -> tuple[str, str]:
    """Mail the voter a new activation link (the only valid one from now on): ``(outcome, error text)``.

    The same steps as ``voters send-activation`` (``activation_mailing``), for one voter:
    the link is recorded as the current one before it leaves, given back if the relay
    refused it, kept if it may have arrived (a delivered link always works).  Nothing is
    sent to an activated account, nor to a voter struck off the register.
    """
    voter_id = voter.id
    claimed = None if voter.password_hash is not None else mailing.claim_one(s, voter_id)
    if claimed is None:  # activated or struck off, before or meanwhile
        outcome = DEACTIVATED if register.is_deactivated(s.get(Voter, voter_id)) else ALREADY_ACTIVE
        return _resent(s, voter_id, operator, reason, outcome), ""
    days = runtime.setting("ACTIVATION_LINK_MAX_AGE") // 86400
    message = messaging.render_email("activation", claimed.voter.email, voter=claimed.voter,
                                     link=accounts.activation_link(voter_id, claimed.generation), days=days)
    try:
        messaging.send_email(message)
    except messaging.DeliveryError as exc:
        if exc.maybe_delivered:
            mailing.confirm(s, [claimed], audited=False)
            return _resent(s, voter_id, operator, reason, SEND_UNCERTAIN), str(exc)
        mailing.give_back(s, [claimed])
        return _resent(s, voter_id, operator, reason, SEND_FAILED), str(exc)
    mailing.confirm(s, [claimed])
    return _resent(s, voter_id, operator, reason, SENT), ""


#: How the audit detail names each outcome (``resultat=``).
RESULTS = {SENT: "envoye", ALREADY_ACTIVE: "deja_active", DEACTIVATED: "desactive", SEND_FAILED: "echec_envoi",
           SEND_UNCERTAIN: "envoi_incertain"}


def _resent(s: Session, voter_id: int, operator: str, reason: str, outcome: str) -> str:
    audit.record(s, "helpdesk_resend_activation", voter_id, detail(operator, reason, RESULTS[outcome]))
    s.commit()
    return outcome
