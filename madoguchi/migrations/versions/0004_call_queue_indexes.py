"""indexes for the supervisors' view: calls by time put in line, and calls still in progress

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_queued", "calls", ["queued_at"])
    op.create_index("ix_calls_in_progress_queued", "calls", ["queued_at"],
                    sqlite_where=sa.text("ended_at IS NULL"),
                    postgresql_where=sa.text("ended_at IS NULL"))


def downgrade() -> None:
    op.drop_index("ix_calls_in_progress_queued", table_name="calls")
    op.drop_index("ix_calls_queued", table_name="calls")
