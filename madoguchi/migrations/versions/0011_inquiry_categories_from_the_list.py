"""cases' free-text categories mapped onto the list of categories kept in config.toml

Revision ID: 0011
Revises: 0010

Until now a category was whatever was typed ("@ごみ", "ごみ ", "voicemail"), so the same matter
was counted apart. Each stored category becomes the key of the list entry it meant (the key or
a name however written, or a text holding a name), else "other". The list is read from the
config.toml the running Madoguchi uses (MADOGUCHI_CONFIG, or ./config.toml), or the one shipped
with this version when there is none. Data only; the downgrade leaves the keys (the free text
is not kept).
"""

import os
import tomllib
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from madoguchi.inquiry_categories import closest_key
from madoguchi.settings import CategoryName, InquirySettings

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# The list shipped with this version, for a database migrated without a config.toml at hand.
SHIPPED = (
    CategoryName(key="vaccination", ja="ワクチン", en="Vaccination"),
    CategoryName(key="waste", ja="ごみ", en="Waste and recycling"),
    CategoryName(key="roads", ja="道路", en="Roads and street lights"),
    CategoryName(key="tax", ja="税", en="Taxes"),
    CategoryName(key="welfare", ja="福祉", en="Welfare"),
)


def _categories() -> InquirySettings:
    path = Path(os.environ.get("MADOGUCHI_CONFIG") or "config.toml")
    if path.is_file():
        section = tomllib.loads(path.read_text(encoding="utf-8")).get("inquiries", {})
        if section.get("categories"):
            return InquirySettings(categories=section["categories"])
    return InquirySettings(categories=SHIPPED)


def upgrade() -> None:
    config = _categories()
    known = {item.key for item in config.categories}
    inquiries = sa.table("inquiries", sa.column("category", sa.String))
    bind = op.get_bind()
    stored = bind.execute(sa.select(inquiries.c.category).distinct()).scalars().all()
    for text in stored:
        key = text if text in known else closest_key(config, text)
        if key != text:
            bind.execute(inquiries.update().where(inquiries.c.category == text)
                         .values(category=key))


def downgrade() -> None:
    pass
