"""bookings a supervisor accepts beyond a slot's places: their count per slot and their reason

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("slots", sa.Column("overridden_count", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("bookings", sa.Column("override_reason", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("override_reason")
    with op.batch_alter_table("slots") as batch:
        batch.drop_column("overridden_count")
