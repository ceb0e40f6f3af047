"""The data: voters, their scrutins, CAPTCHA challenges and the audit trail.

Nothing secret is stored in clear: vote code, NUMEN and NIR prefix are keyed
digests (``hashing.digest``), password and challenge answer are bcrypt hashes.
Instants used by throttles are integer epoch seconds from the injected clock.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


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
    # Bumped at each activation mail and at activation: single use, latest only.
    activation_generation: Mapped[int] = mapped_column(Integer, default=0)
    activation_sent_at: Mapped[int | None] = mapped_column(Integer)
    code_digest: Mapped[str | None] = mapped_column(String(64))
    code_issued_at: Mapped[int | None] = mapped_column(Integer)
    # Bumped at each link requested and at each regeneration (compare-and-swap).
    link_generation: Mapped[int] = mapped_column(Integer, default=0)
    link_window_start: Mapped[int] = mapped_column(Integer, default=0)
    links_in_window: Mapped[int] = mapped_column(Integer, default=0)
    challenge_failures: Mapped[int] = mapped_column(Integer, default=0)
    challenge_locked_until: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped at logout and regeneration: every other session of the voter ends.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # Set when the voter is struck off the register (absent from a re-import, or by an
    # operator): no login, no vote, no réassort; ``None`` for an active voter.
    deactivated_at: Mapped[int | None] = mapped_column(Integer)

    scrutins: Mapped[list[Scrutin]] = relationship(
        back_populates="voter", order_by="Scrutin.id", cascade="all, delete-orphan")


class Scrutin(Base):
    __tablename__ = "scrutins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    voter_id: Mapped[int] = mapped_column(ForeignKey("voters.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))

    voter: Mapped[Voter] = relationship(back_populates="scrutins")


class CaptchaChallenge(Base):
    """One CAPTCHA shown; deleted when answered, so an answer cannot be replayed.

    The answer itself is derived from ``SECRET_KEY`` and the id (``reassort.procedures.captchas``):
    nothing of it is stored.
    """

    __tablename__ = "captcha_challenges"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    expires_at: Mapped[int] = mapped_column(Integer, index=True)


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
