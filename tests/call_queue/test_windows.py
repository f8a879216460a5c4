"""Callback windows: which are offered, and how they are said."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

import prompts
from call_queue import windows
from madoguchi.settings import QueueSettings
from madoguchi.voice.speech import Speaker

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = {day: "08:30-17:15" for day in ("monday", "tuesday", "wednesday", "thursday",
                                             "friday")}
# A week without public holidays: Monday 2026-11-30 to Sunday 2026-12-06.
MONDAY = datetime(2026, 11, 30, tzinfo=TOKYO)


def _settings(settings, *, hours: dict | None = None, callback_windows: list[str] | None = None):
    hours_section = settings.hours.model_copy(update={
        **WEEKDAYS, "saturday": "", "sunday": "", "always_open": False, "closed_days": [],
        "closed_on_public_holidays": True, **(hours or {})})
    queue = settings.queue.model_copy(update={
        "callback_windows": callback_windows or ["09:00-11:00", "14:00-16:00"]})
    return settings.model_copy(update={"file": settings.file.model_copy(
        update={"hours": hours_section, "queue": queue, "city": settings.city.model_copy(
            update={"timezone": "Asia/Tokyo"})})})


def _offered(settings, at: datetime) -> list[tuple[str, str, str]]:
    return [(w.day, w.start.strftime("%a %H:%M"), w.end.strftime("%H:%M"))
            for w in windows.offered_windows(settings, at)]


def test_early_in_the_day_both_of_todays_windows_and_tomorrow_morning_are_offered(settings):
    at = MONDAY.replace(hour=8)
    assert _offered(_settings(settings), at) == [
        ("today", "Mon 09:00", "11:00"), ("today", "Mon 14:00", "16:00"),
        ("tomorrow", "Tue 09:00", "11:00")]


def test_a_window_that_has_started_is_not_offered_as_a_later_time(settings):
    at = MONDAY.replace(hour=9, minute=30)
    assert _offered(_settings(settings), at) == [
        ("today", "Mon 14:00", "16:00"), ("tomorrow", "Tue 09:00", "11:00"),
        ("tomorrow", "Tue 14:00", "16:00")]


def test_on_a_friday_evening_nothing_is_offered_because_saturday_is_closed(settings):
    assert _offered(_settings(settings), MONDAY.replace(month=12, day=4, hour=18)) == []


def test_a_window_reaching_past_closing_time_is_not_offered(settings):
    early_close = _settings(settings, hours={"monday": "08:30-15:00", "tuesday": "08:30-15:00"})
    assert _offered(early_close, MONDAY.replace(hour=8)) == [
        ("today", "Mon 09:00", "11:00"), ("tomorrow", "Tue 09:00", "11:00")]


def test_no_window_is_offered_on_a_public_holiday_tomorrow(settings):
    # Monday 2026-11-23 is Labour Thanksgiving Day: nothing on Sunday evening for tomorrow.
    sunday_evening = datetime(2026, 11, 22, 19, tzinfo=TOKYO)
    assert _offered(_settings(settings, hours={"sunday": "08:30-17:15"}), sunday_evening) == []


def test_at_most_three_windows_follow_as_soon_as_possible(settings):
    many = _settings(settings, callback_windows=["09:00-10:00", "10:00-11:00", "13:00-15:00",
                                                 "15:00-17:00"])
    assert len(windows.offered_windows(many, MONDAY.replace(hour=8))) == windows.MAX_OFFERED


def test_offered_windows_need_an_aware_time(settings):
    with pytest.raises(ValueError, match="time-zone aware"):
        windows.offered_windows(_settings(settings), datetime(2026, 11, 30, 8))


def test_offered_windows_travel_as_codes_and_come_back_the_same(settings):
    local = _settings(settings)
    at = MONDAY.replace(hour=8)
    offered = windows.offered_windows(local, at)
    back = windows.from_offer_codes(local, at + timedelta(minutes=2),
                                    windows.offer_codes(offered))
    assert back == offered
    assert windows.from_offer_codes(local, at, (1, 500, 7)) == []  # not a 1- or 2-hour pair
    next_week = int((at + timedelta(days=7)).timestamp()) // 60
    assert windows.from_offer_codes(local, at, (next_week, next_week + 60)) == []


@pytest.mark.parametrize("value, message", [
    ("9-11", "HH:MM-HH:MM"),
    ("09:00-12:00", "1 or 2 hours"),
    ("10:00-09:00", "1 or 2 hours"),
    ("09:00-09:30", "1 or 2 hours"),
])
def test_a_window_that_is_not_one_or_two_hours_is_refused_with_the_reason(value, message):
    with pytest.raises(ValidationError, match=message):
        QueueSettings(callback_windows=[value])


def _window(day: str, start: time, end: time) -> windows.CallbackWindow:
    base = MONDAY if day == "today" else MONDAY + timedelta(days=1)
    return windows.CallbackWindow(datetime.combine(base.date(), start, TOKYO),
                                  datetime.combine(base.date(), end, TOKYO), day)


@pytest.mark.parametrize("lang, day, start, end, spoken", [
    ("en", "today", time(14), time(16), "this afternoon between 2 and 4"),
    ("en", "tomorrow", time(9), time(11), "tomorrow morning between 9 and 11"),
    ("en", "today", time(9, 30), time(10, 30), "this morning between 9:30 and 10:30"),
    ("en", "tomorrow", time(11), time(13), "tomorrow between 11 a.m. and 1 p.m."),
    ("ja", "today", time(14), time(16), "今日の午後2時から4時の間"),
    ("ja", "tomorrow", time(9), time(11), "明日の午前9時から11時の間"),
    ("ja", "today", time(11), time(13), "今日の午前11時から午後1時の間"),
])
def test_a_window_is_said_plainly_with_its_part_of_the_day(lang, day, start, end, spoken):
    window = _window(day, start, end)
    speaker = Speaker(prompts.catalog(lang), TOKYO, 500)
    assert speaker.window(window.day, window.part, *window.local_times()) == spoken
