"""Voters struck off the register: ``voters.deactivated_at`` (epoch seconds, null = active).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, even on a register of a million voters.
    op.add_column("voters", sa.Column("deactivated_at", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("voters") as batch:
        batch.drop_column("deactivated_at")
