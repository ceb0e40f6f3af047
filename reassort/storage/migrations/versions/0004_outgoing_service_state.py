"""The opening rush (issue 15): notices queue, the operator's switch, resumable activation mails.

- ``outgoing_messages``: the « code modifié » notice, written with the regeneration and
  sent after the response (``messages work``);
- ``service_state``: ``service suspend|resume``, one row shared by every worker and VM;
- ``voters.activation_claimed_at``: a mail of ``send-activation`` claimed and not yet
  accepted by the relay (resumable, nothing sent twice).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outgoing_messages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", sa.Integer, nullable=False),
        sa.Column("due_at", sa.Integer, nullable=False),
        sa.Column("claimed_until", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("template", sa.String(40), nullable=False),
        sa.Column("voter_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_outgoing_due", "outgoing_messages", ["due_at"])
    op.create_table(
        "service_state",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("suspended", sa.Boolean, nullable=False),
        sa.Column("message", sa.Text),
        sa.Column("changed_at", sa.Integer, nullable=False),
    )
    with op.batch_alter_table("voters") as batch:
        batch.add_column(sa.Column("activation_claimed_at", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("voters") as batch:
        batch.drop_column("activation_claimed_at")
    op.drop_table("service_state")
    op.drop_index("ix_outgoing_due", "outgoing_messages")
    op.drop_table("outgoing_messages")
