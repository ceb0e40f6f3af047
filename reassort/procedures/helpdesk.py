"""The help desk's actions on one voter: look up their state, lift a suspension, resend activation.

Each action is audited with the operator's name and reason (``helpdesk_*`` events).
Nothing here reads or writes a secret: the state says *whether* a code was issued and
when, never the code nor its digest, and there is no action that sets a code
(a voter whose code is lost uses the réassort, or ``codes reissue``).  The reason is
free text, so it is refused when it looks like an address or a phone number: the
audit trail must never hold one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from reassort import runtime
from reassort.adapters import messaging
from reassort.procedures import accounts, audit
from reassort.storage.database import changed_rows
from reassort.storage.models import AuditEvent, Voter

OPERATOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,63}")
MAX_REASON = 200
#: What the audit trail must never hold: an e-mail address, a NUMEN, or a run of 9 digits or
#: more written with or without separators (a phone number, a NIR).
_PERSONAL = re.compile(r"@|%40|\d{2}\s*[a-z]\s*\d{7}\s*[a-z]{3}|\+?\d(?:[\s./-]?\d){8,}", re.IGNORECASE)
RECENT_EVENTS = 10

SENT = "sent"
ALREADY_ACTIVE = "already_active"
SEND_FAILED = "send_failed"


class Refused(ValueError):
    """An operator's input that cannot be used; the message says why (French)."""


def check_operator(name: str) -> str:
    name = (name or "").strip()
    if not OPERATOR.fullmatch(name):
        raise Refused("--operator : un identifiant d'opérateur (lettres, chiffres, « . », « _ », « - », "
                      "2 à 64 caractères), par exemple « m.durand »")
    return name


def check_reason(text: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise Refused("--reason : le motif est obligatoire (par exemple « appel 2026-118 »)")
    if len(text) > MAX_REASON or any(not c.isprintable() for c in text):
        raise Refused(f"--reason : {MAX_REASON} caractères imprimables au plus")
    if _PERSONAL.search(text):
        raise Refused("--reason : ni adresse électronique ni numéro (téléphone, NIR, NUMEN) dans le motif, "
                      "il est écrit dans le journal d'audit ; donnez plutôt un numéro de ticket court")
    return text


def detail(operator: str, reason: str, outcome: str | None = None) -> str:
    """The audit detail of a help-desk action."""
    return f"operateur={operator} motif={reason}" + (f" resultat={outcome}" if outcome else "")


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

    As ``voters send-activation``: the generation moves only after the relay accepted
    the mail, by a compare-and-swap; a failed send changes nothing.
    """
    if voter.password_hash is not None:
        audit.record(s, "helpdesk_resend_activation", voter.id, detail(operator, reason, "deja_active"))
        s.commit()
        return ALREADY_ACTIVE, ""
    generation = voter.activation_generation + 1
    days = runtime.setting("ACTIVATION_LINK_MAX_AGE") // 86400
    message = messaging.render_email("activation", voter.email, voter=voter,
                                     link=accounts.activation_link(voter.id, generation), days=days)
    voter_id = voter.id
    try:
        messaging.send_email(message)
    except messaging.DeliveryError as exc:
        s.rollback()
        audit.record_now(s, "helpdesk_resend_activation", voter_id, detail(operator, reason, "echec_envoi"))
        return SEND_FAILED, str(exc)
    done = s.execute(update(Voter)
                     .where(Voter.id == voter_id, Voter.activation_generation == generation - 1,
                            Voter.password_hash.is_(None))
                     .values(activation_generation=generation, activation_sent_at=runtime.now_int())
                     .execution_options(synchronize_session=False))
    if changed_rows(done) != 1:
        # Activated (or mailed by someone else) meanwhile: void the link just sent.
        s.execute(update(Voter).where(Voter.id == voter_id)
                  .values(activation_generation=Voter.activation_generation + 1)
                  .execution_options(synchronize_session=False))
        audit.record(s, "helpdesk_resend_activation", voter_id, detail(operator, reason, "deja_active"))
        s.commit()
        return ALREADY_ACTIVE, ""
    audit.record(s, "activation_sent", voter_id)
    audit.record(s, "helpdesk_resend_activation", voter_id, detail(operator, reason, "envoye"))
    s.commit()
    return SENT, ""
