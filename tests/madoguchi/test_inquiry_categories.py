"""Case categories come from one list in config.toml; free text written before maps onto it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import MetaData, insert, select

from madoguchi import inquiry_categories
from madoguchi.inquiry_categories import UnknownCategory, closest_key
from madoguchi.migrate import upgrade
from madoguchi.settings import InquirySettings
from tests.madoguchi.sealing.test_upgrade_from_plaintext import old_engine  # noqa: F401


def test_the_shipped_list_has_names_in_both_languages_and_the_line_s_own_categories(settings):
    config = settings.inquiries
    assert inquiry_categories.keys(config)[-3:] == ("voicemail", "callback", "other")
    assert inquiry_categories.name(config, "waste", "ja") == "ごみ"
    assert inquiry_categories.name(config, "waste", "en") == "Waste and recycling"
    assert inquiry_categories.choices(config, "en")[0] == ("vaccination", "Vaccination")


def test_a_list_without_the_built_in_categories_gets_them_and_a_key_twice_is_refused():
    config = InquirySettings(categories=[{"key": "parks", "ja": "公園", "en": "Parks"}])
    assert inquiry_categories.keys(config) == ("parks", "voicemail", "callback", "other")
    with pytest.raises(ValidationError, match="each key only once"):
        InquirySettings(categories=[{"key": "parks", "ja": "公園", "en": "Parks"},
                                    {"key": "parks", "ja": "広場", "en": "Squares"}])
    with pytest.raises(ValidationError):
        InquirySettings(categories=[{"key": "公園", "ja": "公園", "en": "Parks"}])


@pytest.mark.parametrize("typed", ["", "ごみ ", "@waste", "parks", "<script>", "x" * 500, None])
def test_only_a_key_of_the_list_is_accepted(settings, typed):
    with pytest.raises(UnknownCategory, match="one of: vaccination, waste"):
        inquiry_categories.require(settings.inquiries, typed)
    assert inquiry_categories.require(settings.inquiries, "waste") == "waste"


@pytest.mark.parametrize(("typed", "key"), [
    ("@ごみ", "waste"), ("ごみ ", "waste"), ("ＷＡＳＴＥ", "waste"), ("粗大ごみ", "waste"),
    ("税金", "tax"), ("Roads", "roads"), ("road", "roads"), ("ワクチン接種", "vaccination"),
    ("voicemail", "voicemail"), ("callback", "callback"), ("福祉・介護", "welfare"),
    ("相談", "other"), ("", "other"), ("x", "other"),
])
def test_free_text_of_earlier_versions_finds_the_category_it_meant(settings, typed, key):
    assert closest_key(settings.inquiries, typed) == key


def test_reports_count_a_key_no_longer_listed_as_other(settings):
    assert inquiry_categories.reported(settings.inquiries, "roads") == "roads"
    assert inquiry_categories.reported(settings.inquiries, "parks") == "other"


def test_the_migration_maps_every_stored_free_text_category_onto_the_list(old_engine):  # noqa: F811
    upgrade(old_engine, "0010")
    tables = MetaData()
    tables.reflect(old_engine)
    inquiries = tables.tables["inquiries"]
    typed = ["@ごみ", "ごみ", "voicemail", "道路", "相談", "Tax", "callback"]
    at = datetime(2026, 1, 5, 9, 0, tzinfo=None if old_engine.dialect.name == "sqlite" else UTC)
    with old_engine.begin() as connection:
        for number, category in enumerate(typed):
            connection.execute(insert(inquiries).values(
                reference=f"I{number:09d}", category=category, subject="x", status="received",
                channel="operator", created_at=at, updated_at=at))
    upgrade(old_engine, "0011")
    with old_engine.connect() as connection:
        found = connection.execute(
            select(inquiries.c.category).order_by(inquiries.c.reference)).scalars().all()
    assert found == ["waste", "waste", "voicemail", "roads", "other", "tax", "callback"]
