"""residents' data sealed at rest: sealed columns as text, blind-index digests, name search
terms, text messages, and the sealing canary

Revision ID: 0007
Revises: 0006

Schema only. A database that already holds an earlier version's plain data gets a canary row
in state "plaintext": no process starts on it until `madoguchi db upgrade` (which runs this
migration and then madoguchi.sealing.rotation.seal_earlier_data) has sealed and indexed every
value, in batches with a progress bar, resumable.

On PostgreSQL the sealed columns become TEXT (sealed values are longer than the old VARCHARs;
dates and JSON become their text). SQLite does not enforce declared types, so only the two
tables whose unique constraints move from values to digests are rebuilt.
"""

import sqlalchemy as sa
from alembic import op

import madoguchi.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

DIGEST = sa.String(length=40)
ACTIVE = "status IN ('waiting', 'dialing', 'connected')"
# (table, column, type before, how PostgreSQL turns the old value into text)
SEALED_COLUMNS = [
    ("residents", "resident_no", sa.String(20), None),
    ("residents", "name", sa.String(100), None),
    ("residents", "name_kana", sa.String(100), None),
    ("residents", "birth_date", sa.Date(), "birth_date::text"),
    ("resident_phones", "e164", sa.String(20), None),
    ("bookings", "cancel_reason", sa.String(200), None),
    ("bookings", "override_reason", sa.String(200), None),
    ("inquiries", "subject", sa.String(300), None),
    ("inquiries", "contact_e164", sa.String(20), None),
    ("calls", "from_e164", sa.String(20), None),
    ("calls", "to_number", sa.String(32), None),
    ("call_steps", "result", sa.JSON(), "result::text"),
    ("callback_requests", "phone_e164", sa.String(20), None),
    ("operators", "phone_e164", sa.String(20), None),
]
# Tables whose rows hold values that are sealed from now on.
HOLDING_PERSONAL_DATA = ("residents", "resident_phones", "bookings", "inquiries",
                         "inquiry_events", "calls", "call_steps", "callback_requests",
                         "operators")


def _moment(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, madoguchi.models.UTCDateTime(timezone=True), nullable=nullable)


def _holds_data(bind) -> bool:
    return any(bind.execute(sa.text(f"SELECT 1 FROM {name} LIMIT 1")).first()  # noqa: S608
               for name in HOLDING_PERSONAL_DATA)


def upgrade() -> None:
    bind = op.get_bind()
    on_postgres = bind.dialect.name == "postgresql"
    plain_data = _holds_data(bind)

    op.drop_index("uq_callback_requests_one_active_per_number", table_name="callback_requests")
    op.drop_index("ix_calls_from_e164", table_name="calls")
    op.drop_index("ix_resident_phones_e164", table_name="resident_phones")
    op.drop_index("ix_residents_name_kana", table_name="residents")
    with op.batch_alter_table("residents") as batch:
        batch.drop_constraint("uq_residents_resident_no", type_="unique")
    with op.batch_alter_table("resident_phones") as batch:
        batch.drop_constraint("uq_resident_phones_resident_id", type_="unique")
    if on_postgres:
        for table, name, before, using in SEALED_COLUMNS:
            op.alter_column(table, name, type_=sa.Text(), existing_type=before,
                            postgresql_using=using)

    op.add_column("residents", sa.Column("resident_no_digest", DIGEST, nullable=True))
    op.add_column("residents", sa.Column("birth_digest", DIGEST, nullable=True))
    op.add_column("resident_phones", sa.Column("e164_digest", DIGEST, nullable=True))
    op.add_column("resident_phones", sa.Column("last4_digest", DIGEST, nullable=True))
    op.add_column("calls", sa.Column("from_digest", DIGEST, nullable=True))
    op.add_column("callback_requests", sa.Column("phone_digest", DIGEST, nullable=True))
    op.add_column("inquiry_events", sa.Column("recording_digest", DIGEST, nullable=True))

    with op.batch_alter_table("residents") as batch:
        batch.create_unique_constraint("uq_residents_resident_no_digest", ["resident_no_digest"])
    with op.batch_alter_table("resident_phones") as batch:
        batch.create_unique_constraint("uq_resident_phones_resident_id",
                                       ["resident_id", "e164_digest"])
    op.create_index("ix_residents_birth_digest", "residents", ["birth_digest"])
    op.create_index("ix_resident_phones_e164_digest", "resident_phones", ["e164_digest"])
    op.create_index("ix_resident_phones_last4_digest", "resident_phones", ["last4_digest"])
    op.create_index("ix_calls_from_digest", "calls", ["from_digest"])
    op.create_index("ix_inquiry_events_recording_digest", "inquiry_events",
                    ["recording_digest"])
    op.create_index("uq_callback_requests_one_active_per_number", "callback_requests",
                    ["phone_digest"], unique=True, sqlite_where=sa.text(ACTIVE),
                    postgresql_where=sa.text(ACTIVE))

    op.create_table(
        "resident_search_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"], ondelete="CASCADE",
                                name="fk_resident_search_terms_resident_id_residents"),
        sa.PrimaryKeyConstraint("id", name="pk_resident_search_terms"),
    )
    op.create_index("ix_resident_search_terms_term", "resident_search_terms",
                    ["term", "resident_id"])
    op.create_index("ix_resident_search_terms_resident_id", "resident_search_terms",
                    ["resident_id"])

    op.create_table(
        "text_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("to_e164", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _moment("sent_at", nullable=False),
        _moment("anonymised_at"),
        sa.ForeignKeyConstraint(["resident_id"], ["residents.id"],
                                name="fk_text_messages_resident_id_residents"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"],
                                name="fk_text_messages_operator_id_operators"),
        sa.PrimaryKeyConstraint("id", name="pk_text_messages"),
    )
    op.create_index("ix_text_messages_sent_at", "text_messages", ["sent_at"])
    op.create_index("ix_text_messages_resident_id", "text_messages", ["resident_id"])

    canary = op.create_table(
        "sealing_canary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("data_token", sa.Text(), nullable=True),
        sa.Column("index_digest", DIGEST, nullable=True),
        _moment("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sealing_canary"),
    )
    if plain_data:
        op.bulk_insert(canary, [{"id": 1, "state": "plaintext",
                                 "updated_at": madoguchi.models.utcnow()}])


def downgrade() -> None:
    bind = op.get_bind()
    if _holds_data(bind):
        raise RuntimeError("a database with sealed residents' data cannot go back to plain "
                           "text; restore the backup taken before the upgrade instead")
    op.drop_table("sealing_canary")
    op.drop_index("ix_text_messages_resident_id", table_name="text_messages")
    op.drop_index("ix_text_messages_sent_at", table_name="text_messages")
    op.drop_table("text_messages")
    op.drop_index("ix_resident_search_terms_resident_id", table_name="resident_search_terms")
    op.drop_index("ix_resident_search_terms_term", table_name="resident_search_terms")
    op.drop_table("resident_search_terms")
    op.drop_index("uq_callback_requests_one_active_per_number", table_name="callback_requests")
    for name, table in (("ix_inquiry_events_recording_digest", "inquiry_events"),
                        ("ix_calls_from_digest", "calls"),
                        ("ix_resident_phones_last4_digest", "resident_phones"),
                        ("ix_resident_phones_e164_digest", "resident_phones"),
                        ("ix_residents_birth_digest", "residents")):
        op.drop_index(name, table_name=table)
    with op.batch_alter_table("resident_phones") as batch:
        batch.drop_constraint("uq_resident_phones_resident_id", type_="unique")
        batch.drop_column("last4_digest")
        batch.drop_column("e164_digest")
    with op.batch_alter_table("residents") as batch:
        batch.drop_constraint("uq_residents_resident_no_digest", type_="unique")
        batch.drop_column("birth_digest")
        batch.drop_column("resident_no_digest")
    for table, name in (("calls", "from_digest"), ("callback_requests", "phone_digest"),
                        ("inquiry_events", "recording_digest")):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(name)
    if bind.dialect.name == "postgresql":
        for table, name, before, _ in SEALED_COLUMNS:
            using = f"{name}::{'date' if isinstance(before, sa.Date) else 'json'}" if isinstance(
                before, sa.Date | sa.JSON) else None
            op.alter_column(table, name, type_=before, existing_type=sa.Text(),
                            postgresql_using=using)
    with op.batch_alter_table("resident_phones") as batch:
        batch.create_unique_constraint("uq_resident_phones_resident_id", ["resident_id", "e164"])
    with op.batch_alter_table("residents") as batch:
        batch.create_unique_constraint("uq_residents_resident_no", ["resident_no"])
    op.create_index("ix_residents_name_kana", "residents", ["name_kana"])
    op.create_index("ix_resident_phones_e164", "resident_phones", ["e164"])
    op.create_index("ix_calls_from_e164", "calls", ["from_e164"])
    op.create_index("uq_callback_requests_one_active_per_number", "callback_requests",
                    ["phone_e164"], unique=True, sqlite_where=sa.text(ACTIVE),
                    postgresql_where=sa.text(ACTIVE))
