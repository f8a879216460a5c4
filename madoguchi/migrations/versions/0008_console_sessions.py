"""console sessions kept on the server: logout, password change and disabling end them

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import madoguchi.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id"), nullable=False),
        sa.Column("created_at", madoguchi.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", madoguchi.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", madoguchi.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
    )
    op.create_index("ix_console_sessions_operator_open", "console_sessions",
                    ["operator_id", "ended_at"])


def downgrade() -> None:
    op.drop_index("ix_console_sessions_operator_open", table_name="console_sessions")
    op.drop_table("console_sessions")
