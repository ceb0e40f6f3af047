"""Voters, scrutins, CAPTCHA challenges, audit events.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "voters",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("identifiant", sa.String(64), nullable=False, unique=True),
        sa.Column("nom", sa.String(200), nullable=False),
        sa.Column("prenoms", sa.String(200), nullable=False),
        sa.Column("date_naissance", sa.Date, nullable=False),
        sa.Column("lieu_naissance", sa.String(5)),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("numen_digest", sa.String(64)),
        sa.Column("nir_digest", sa.String(64)),
        sa.Column("password_hash", sa.String(80)),
        sa.Column("question_id", sa.String(32)),
        sa.Column("answer_hash", sa.String(80)),
        sa.Column("activation_generation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("activation_sent_at", sa.Integer),
        sa.Column("code_digest", sa.String(64)),
        sa.Column("code_issued_at", sa.Integer),
        sa.Column("link_generation", sa.Integer, nullable=False, server_default="0"),
        sa.Column("link_window_start", sa.Integer, nullable=False, server_default="0"),
        sa.Column("links_in_window", sa.Integer, nullable=False, server_default="0"),
        sa.Column("challenge_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("challenge_locked_until", sa.Integer, nullable=False, server_default="0"),
        sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "scrutins",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("voter_id", sa.Integer, sa.ForeignKey("voters.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_index("ix_scrutins_voter_id", "scrutins", ["voter_id"])
    op.create_table(
        "captcha_challenges",
        sa.Column("id", sa.String(43), primary_key=True),
        sa.Column("expires_at", sa.Integer, nullable=False),
    )
    op.create_index("ix_captcha_challenges_expires_at", "captcha_challenges", ["expires_at"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("voter_id", sa.Integer),
        sa.Column("ip_hash", sa.String(16)),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_event", "audit_events", ["event"])
    op.create_index("ix_audit_voter_event", "audit_events", ["voter_id", "event"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("captcha_challenges")
    op.drop_index("ix_scrutins_voter_id", "scrutins")
    op.drop_table("scrutins")
    op.drop_table("voters")
