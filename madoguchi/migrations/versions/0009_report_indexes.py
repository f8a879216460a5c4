"""indexes for the console on a year of data: an operator's call to wrap up, inquiries by the
day they were received, and an inquiry's timeline

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UNWRAPPED = "wrapped_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_calls_operator_unwrapped", "calls", ["operator_id", "answered_at"],
                    sqlite_where=sa.text(UNWRAPPED), postgresql_where=sa.text(UNWRAPPED))
    op.create_index("ix_inquiries_created", "inquiries", ["created_at"])
    op.create_index("ix_inquiry_events_inquiry", "inquiry_events", ["inquiry_id"])


def downgrade() -> None:
    op.drop_index("ix_inquiry_events_inquiry", table_name="inquiry_events")
    op.drop_index("ix_inquiries_created", table_name="inquiries")
    op.drop_index("ix_calls_operator_unwrapped", table_name="calls")
