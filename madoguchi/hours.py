"""Opening hours of the phone line: weekly hours, closed days and Japanese public holidays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays

from madoguchi.settings import Settings

# How far ahead next_opening looks; the New Year break plus a holiday week fits easily.
SEARCH_DAYS = 60


@lru_cache(maxsize=64)
def _japanese_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=[year])


def is_public_holiday(day: date) -> bool:
    """True on a Japanese national holiday (including substitute holidays)."""
    return day in _japanese_holidays(day.year)


def is_closed_day(settings: Settings, day: date) -> bool:
    """True when the whole local day is closed: a listed closed day or a public holiday."""
    hours = settings.hours
    if day in hours.closed_days:
        return True
    return hours.closed_on_public_holidays and is_public_holiday(day)


def is_open(settings: Settings, at: datetime) -> bool:
    """True when the phone line's staff are at work at this instant."""
    if at.tzinfo is None:
        raise ValueError("is_open needs a time-zone aware datetime")
    hours = settings.hours
    if hours.always_open:
        return True
    local = at.astimezone(settings.tz)
    if is_closed_day(settings, local.date()):
        return False
    span = hours.for_weekday(local.weekday())
    if span is None:
        return False
    start, end = span
    return start <= local.time().replace(tzinfo=None) < end


def next_opening(settings: Settings, at: datetime) -> datetime | None:
    """The next instant the line opens (``at`` itself when open now), or None when never."""
    if is_open(settings, at):
        return at
    local = at.astimezone(settings.tz)
    for offset in range(SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        span = settings.hours.for_weekday(day.weekday())
        if span is None or is_closed_day(settings, day):
            continue
        opening = datetime.combine(day, span[0], tzinfo=settings.tz)
        if opening > local:
            return opening
    return None


@dataclass(frozen=True)
class WeeklySpan:
    """Consecutive weekdays (0 = Monday) that share the same opening hours."""

    first_weekday: int
    last_weekday: int
    opens: time
    closes: time


def weekly_spans(settings: Settings) -> list[WeeklySpan]:
    """The weekly hours grouped into runs of days with equal hours, for saying them aloud."""
    spans: list[WeeklySpan] = []
    for weekday in range(7):
        hours = settings.hours.for_weekday(weekday)
        if hours is None:
            continue
        last = spans[-1] if spans else None
        if last and last.last_weekday == weekday - 1 and (last.opens, last.closes) == hours:
            spans[-1] = WeeklySpan(last.first_weekday, weekday, last.opens, last.closes)
        else:
            spans.append(WeeklySpan(weekday, weekday, hours[0], hours[1]))
    return spans
