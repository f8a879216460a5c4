"""Dates, times and numbers on the console, written the way the operator's language writes them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from agent_console import formats
from tests import factories

TOKYO = ZoneInfo("Asia/Tokyo")
# 09:05:07 UTC is 18:05:07 in Tokyo.
MOMENT = datetime(2026, 11, 20, 9, 5, 7, tzinfo=UTC)


def test_a_day_is_written_with_slashes_in_japanese_and_the_month_name_in_english():
    assert formats.day(date(1948, 5, 17), "ja") == "1948/05/17"
    assert formats.day(date(1948, 5, 17), "en") == "May 17, 1948"


def test_a_moment_is_shown_in_the_city_time_zone():
    assert formats.moment(MOMENT, "ja", TOKYO) == "2026/11/20 18:05"
    assert formats.moment(MOMENT, "en", TOKYO) == "Nov 20, 2026, 6:05\u202fPM"
    assert formats.day(datetime(2026, 11, 20, 20, 0, tzinfo=UTC), "ja", TOKYO) == "2026/11/21"


def test_seconds_are_shown_only_when_asked_for():
    assert formats.clock(MOMENT, "ja", TOKYO) == "18:05"
    assert formats.clock(MOMENT, "ja", TOKYO, seconds=True) == "18:05:07"
    assert formats.moment(MOMENT, "ja", TOKYO, seconds=True) == "2026/11/20 18:05:07"


def test_a_local_time_of_day_is_written_as_it_is():
    assert formats.clock(time(9, 0), "ja") == "9:00"
    assert formats.clock(time(9, 0), "en") == "9:00\u202fAM"


def test_numbers_are_grouped_and_percentages_rounded_in_both_languages():
    assert formats.number(12345, "ja") == "12,345"
    assert formats.number(80.5, "en") == "80.5"
    assert formats.percent(40.4, "ja") == "40%"
    assert formats.percent(100, "en") == "100%"


def test_a_missing_value_is_a_dash_not_zero():
    assert formats.number(None, "ja") == formats.percent(None, "en") == formats.NO_VALUE


def test_a_resident_record_shows_the_birth_date_in_the_operators_language(
        as_operator, db_session):
    resident = factories.resident(db_session, birth_date=date(1948, 5, 17))
    page = as_operator.get(f"/console/residents/{resident.id}").get_data(as_text=True)
    assert "1948/05/17" in page


def test_an_english_speaking_user_reads_the_same_record_with_english_dates(as_admin, db_session):
    resident = factories.resident(db_session, birth_date=date(1948, 5, 17))
    page = as_admin.get(f"/console/residents/{resident.id}").get_data(as_text=True)
    assert "May 17, 1948" in page
    assert "1948/05/17" not in page
