"""Security review (issue 12): growing lock, used-link generation, rendered CAPTCHAs, audit tallies.

- ``voters.challenge_lock_level``: locks in a row (each doubles, capped at 24 h);
- ``voters.link_used_generation``: tells a used link from a superseded one in the audit;
- ``captcha_challenges.used``, ``.image``, ``.audio``: one rendering per challenge, kept;
  a row is written when a challenge is rendered or answered, never when it is shown;
- ``audit_tallies``: events counted per hour instead of one row each;
- generations still at 0 (a voter who never got a link, or an activation mail) get a
  random start, so that no link can be forged for generation 0.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

from reassort.rules.tokens import fresh_generation

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("voters") as batch:
        batch.add_column(sa.Column("challenge_lock_level", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("link_used_generation", sa.Integer))
    with op.batch_alter_table("captcha_challenges") as batch:
        batch.add_column(sa.Column("used", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("image", sa.LargeBinary))
        batch.add_column(sa.Column("audio", sa.LargeBinary))
    op.create_table(
        "audit_tallies",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("hour", sa.DateTime, nullable=False),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("detail", sa.String(60), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.UniqueConstraint("hour", "event", "detail", name="uq_audit_tallies_hour_event_detail"),
    )
    _randomise_zero_generations()


def _randomise_zero_generations() -> None:
    # Generation 0 was every new voter's: a voter at 0 has no link outstanding (links sent
    # carry random generations, activation mails 1 or more), so nothing valid is voided.
    voters = sa.table("voters", sa.column("id", sa.Integer), sa.column("link_generation", sa.Integer),
                      sa.column("activation_generation", sa.Integer))
    connection = op.get_bind()
    for column in (voters.c.link_generation, voters.c.activation_generation):
        while True:
            ids = connection.execute(sa.select(voters.c.id).where(column == 0).limit(BATCH)).scalars().all()
            if not ids:
                break
            connection.execute(sa.update(voters).where(voters.c.id == sa.bindparam("b_id"))
                               .values({column.name: sa.bindparam("b_gen")}),
                               [{"b_id": i, "b_gen": fresh_generation()} for i in ids])


def downgrade() -> None:
    op.drop_table("audit_tallies")
    with op.batch_alter_table("captcha_challenges") as batch:
        batch.drop_column("audio")
        batch.drop_column("image")
        batch.drop_column("used")
    with op.batch_alter_table("voters") as batch:
        batch.drop_column("link_used_generation")
        batch.drop_column("challenge_lock_level")
