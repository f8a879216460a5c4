"""wrap-up of operator calls, how an operator is reached, retention marks, supervisor alerts

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import madoguchi.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _moment(name: str) -> sa.Column:
    return sa.Column(name, madoguchi.models.UTCDateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("disposition", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("wrap_notes", sa.Text(), nullable=True))
        batch.add_column(_moment("wrapped_at"))
        batch.add_column(_moment("anonymised_at"))
    with op.batch_alter_table("inquiries") as batch:
        batch.add_column(_moment("anonymised_at"))
    with op.batch_alter_table("callback_requests") as batch:
        batch.add_column(_moment("anonymised_at"))
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("reach_by", sa.String(length=10), nullable=False,
                                   server_default="browser"))
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("raised_at", madoguchi.models.UTCDateTime(timezone=True), nullable=False),
        _moment("cleared_at"),
        sa.Column("notified", sa.String(length=60), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index("ix_alert_events_metric_raised", "alert_events", ["metric", "raised_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_events_metric_raised", table_name="alert_events")
    op.drop_table("alert_events")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("reach_by")
    with op.batch_alter_table("callback_requests") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("inquiries") as batch:
        batch.drop_column("anonymised_at")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("anonymised_at")
        batch.drop_column("wrapped_at")
        batch.drop_column("wrap_notes")
        batch.drop_column("disposition")
