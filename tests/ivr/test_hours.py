"""Opening hours: weekdays, public holidays, listed closed days, and the next opening."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from madoguchi import hours

TOKYO = ZoneInfo("Asia/Tokyo")


def at(year, month, day, hour, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TOKYO)


def test_the_line_is_open_on_a_weekday_morning_and_closed_at_night(settings):
    assert hours.is_open(settings, at(2026, 11, 25, 9, 30))
    assert not hours.is_open(settings, at(2026, 11, 25, 8, 29))
    assert not hours.is_open(settings, at(2026, 11, 25, 17, 15))


def test_the_line_is_closed_at_the_weekend(settings):
    assert not hours.is_open(settings, at(2026, 11, 28, 10))


def test_japanese_public_holidays_close_the_line(settings):
    # 2026-11-23 (Monday) is 勤労感謝の日; 2026-05-06 is a substitute holiday.
    assert hours.is_public_holiday(date(2026, 11, 23))
    assert hours.is_public_holiday(date(2026, 5, 6))
    assert not hours.is_open(settings, at(2026, 11, 23, 10))


def test_listed_closed_days_close_the_line(settings):
    assert date(2026, 12, 29) in settings.hours.closed_days
    assert not hours.is_open(settings, at(2026, 12, 29, 10))


def test_the_next_opening_skips_the_holiday_and_is_in_city_time(settings):
    opening = hours.next_opening(settings, at(2026, 11, 20, 18))  # Friday evening
    assert opening == at(2026, 11, 24, 8, 30)  # Saturday, Sunday, holiday Monday skipped


def test_the_next_opening_is_now_while_open(settings):
    now = at(2026, 11, 25, 10)
    assert hours.next_opening(settings, now) == now


def test_always_open_keeps_the_line_open_at_night(settings):
    demo = settings.model_copy(
        update={"file": settings.file.model_copy(
            update={"hours": settings.hours.model_copy(update={"always_open": True})}
        )}
    )
    assert hours.is_open(demo, datetime(2026, 11, 23, 15, tzinfo=UTC))


def test_weekly_hours_are_grouped_into_runs_of_equal_days(settings):
    spans = hours.weekly_spans(settings)
    assert [(s.first_weekday, s.last_weekday) for s in spans] == [(0, 4)]
    assert (spans[0].opens.isoformat(), spans[0].closes.isoformat()) == ("08:30:00", "17:15:00")


def test_a_naive_time_is_refused(settings):
    with pytest.raises(ValueError, match="time-zone aware"):
        hours.is_open(settings, datetime(2026, 11, 25, 10))
