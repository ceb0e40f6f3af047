"""The data: voters, their scrutins, CAPTCHA challenges and the audit trail.

Nothing secret is stored in clear: vote code, NUMEN and NIR prefix are keyed
digests (``hashing.digest``), password and challenge answer are bcrypt hashes.
Instants used by throttles are integer epoch seconds from the injected clock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from reassort.rules.tokens import fresh_generation


class Base(DeclarativeBase):
    pass


class Voter(Base):
    __tablename__ = "voters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identifiant: Mapped[str] = mapped_column(String(64), unique=True)
    nom: Mapped[str] = mapped_column(String(200))
    prenoms: Mapped[str] = mapped_column(String(200))
    date_naissance: Mapped[dt.date] = mapped_column(Date)
    lieu_naissance: Mapped[str | None] = mapped_column(String(5))
    # The professional address of record, lower-cased: login name and notices.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    numen_digest: Mapped[str | None] = mapped_column(String(64))
    nir_digest: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str | None] = mapped_column(String(80))
    question_id: Mapped[str | None] = mapped_column(String(32))
    answer_hash: Mapped[str | None] = mapped_column(String(80))
    # Bumped at each activation mail and at activation: single use, latest only.  Starts at a
    # random value (``tokens.fresh_generation``): no link can be forged for a guessed generation.
    activation_generation: Mapped[int] = mapped_column(Integer, default=fresh_generation)
    activation_sent_at: Mapped[int | None] = mapped_column(Integer)
    # ``voters send-activation`` claimed this voter's mail at that instant and has not yet seen
    # the relay accept it: set before the send, cleared after it (resumable, nothing sent twice).
    activation_claimed_at: Mapped[int | None] = mapped_column(Integer)
    code_digest: Mapped[str | None] = mapped_column(String(64))
    code_issued_at: Mapped[int | None] = mapped_column(Integer)
    # A new random value at each link requested and at each regeneration (compare-and-swap);
    # random from the start too.
    link_generation: Mapped[int] = mapped_column(Integer, default=fresh_generation)
    # The generation of the link that last regenerated the code: tells a used link from a
    # superseded one in the audit trail.
    link_used_generation: Mapped[int | None] = mapped_column(Integer)
    # Links requested in the hour that started at ``link_window_start`` (reserved before the send).
    link_window_start: Mapped[int] = mapped_column(Integer, default=0)
    links_in_window: Mapped[int] = mapped_column(Integer, default=0)
    # Wrong answers since the last lock or right answer (each attempt reserved before the check);
    # locked until ``challenge_locked_until``; ``challenge_lock_level`` locks in a row so far.
    challenge_failures: Mapped[int] = mapped_column(Integer, default=0)
    challenge_locked_until: Mapped[int] = mapped_column(Integer, default=0)
    challenge_lock_level: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped at logout and regeneration: every other session of the voter ends.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the voter is struck off the register (absent from a re-import, or by an
    # operator): no login, no vote, no réassort; ``None`` for an active voter.
    deactivated_at: Mapped[int | None] = mapped_column(Integer)
    # The generation of the one valid forgotten-password link: a new random value at each link
    # sent, at the reset and at a password change (single use, latest only).  NULL until the
    # first link (no default: the importer's bulk INSERT names its columns) matches no link:
    # nothing can be forged for it.
    password_generation: Mapped[int | None] = mapped_column(Integer)

    scrutins: Mapped[list[Scrutin]] = relationship(
        back_populates="voter", order_by="Scrutin.id", cascade="all, delete-orphan")


class Scrutin(Base):
    __tablename__ = "scrutins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voter_id: Mapped[int] = mapped_column(ForeignKey("voters.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))

    voter: Mapped[Voter] = relationship(back_populates="scrutins")


class CaptchaChallenge(Base):
    """A CAPTCHA challenge rendered or answered; deleted once expired.

    A challenge shown but never fetched nor answered has no row: issuing one writes
    nothing.  The first rendering of its image or audio is kept here, so that every
    fetch gets the same bytes (nothing to average); answering marks it ``used``
    (and drops the bytes), so an answer cannot be replayed.  The answer itself is
    derived from ``SECRET_KEY`` and the id (``reassort.procedures.captchas``): nothing
    of it is stored.
    """

    __tablename__ = "captcha_challenges"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    audio: Mapped[bytes | None] = mapped_column(LargeBinary)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_voter_event", "voter_id", "event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    event: Mapped[str] = mapped_column(String(40), index=True)
    # No foreign key: the trail outlives the voters' purge.
    voter_id: Mapped[int | None] = mapped_column(Integer)
    ip_hash: Mapped[str | None] = mapped_column(String(16))
    # A short, non-personal detail (a channel, a reason); never a secret.
    detail: Mapped[str | None] = mapped_column(Text)


class AuditTally(Base):
    """Events counted rather than written one row each (SPEC §2 audit trail, SEC-44).

    Requests that carry nothing (no token, a forged one) and throttled floods add one
    to the count of their event, detail and hour: nobody can fill the trail from
    outside.  Nothing personal: no voter, no address.
    """

    __tablename__ = "audit_tallies"
    __table_args__ = (UniqueConstraint("hour", "event", "detail", name="uq_audit_tallies_hour_event_detail"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The hour (naive UTC, minutes and seconds at zero).
    hour: Mapped[dt.datetime] = mapped_column(DateTime)
    event: Mapped[str] = mapped_column(String(40))
    #: A short word of the code ("" when there is none: NULLs would never conflict).
    detail: Mapped[str] = mapped_column(String(60), default="")
    count: Mapped[int] = mapped_column(Integer, default=0)


class OutgoingMessage(Base):
    """A message to the address of record waiting to leave (the « code modifié » notice).

    Written in the transaction that makes the event it tells of, so that it leaves even
    if the worker dies right after; sent by ``messages work`` (or, in development, after
    the response).  Nothing secret: the notice names no code and no link, and goes only to
    the address of record, never to a destination a voter typed (SEC-20).  A sender claims
    a row by setting ``claimed_until`` (a lease); a sender that dies leaves the lease to
    expire, and another sends it: at least once.  Deleted once sent.
    """

    __tablename__ = "outgoing_messages"
    __table_args__ = (Index("ix_outgoing_due", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[int] = mapped_column(Integer)
    #: Not before this instant (epoch s): retries wait a growing delay.
    due_at: Mapped[int] = mapped_column(Integer)
    claimed_until: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: The template under ``templates/messages`` and the voter it is for (its address of record).
    template: Mapped[str] = mapped_column(String(40))
    voter_id: Mapped[int] = mapped_column(Integer)


class ServiceState(Base):
    """The operator's switch (``service suspend|resume``), shared by every worker and VM: one row."""

    __tablename__ = "service_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The public French message shown instead of the forms.
    message: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[int] = mapped_column(Integer, default=0)
