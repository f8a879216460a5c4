"""operator call-taking state and the appointment reminder ledger

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import madoguchi.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("state", sa.String(length=12), nullable=False,
                                   server_default="offline"))
        batch.add_column(sa.Column("state_since", madoguchi.models.UTCDateTime(timezone=True),
                                   nullable=True))
        batch.add_column(sa.Column("state_until", madoguchi.models.UTCDateTime(timezone=True),
                                   nullable=True))
    op.create_table(
        "reminders_sent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sent_at", madoguchi.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"],
                                name=op.f("fk_reminders_sent_booking_id_bookings"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders_sent")),
        sa.UniqueConstraint("booking_id", "kind", name=op.f("uq_reminders_sent_booking_id")),
    )


def downgrade() -> None:
    op.drop_table("reminders_sent")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("state_until")
        batch.drop_column("state_since")
        batch.drop_column("state")
