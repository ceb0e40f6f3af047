"""Forgotten password (issue 14): ``voters.password_generation``.

The generation of the one valid forgotten-password link (single use, latest only).
Existing voters keep NULL, which no link matches: their first link draws a random one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("voters") as batch:
        batch.add_column(sa.Column("password_generation", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("voters") as batch:
        batch.drop_column("password_generation")
