"""Dates, times and numbers written for people, in the console's language (Babel's CLDR data).

Screens use these; CSV files, form values and URLs keep ISO dates and plain numbers, which
programs read. Templates reach them through the filters in views/hooks.py, which take the
language and time zone Flask-Babel chose for the request.
"""

from __future__ import annotations

from datetime import date, datetime, time, tzinfo
from functools import lru_cache

from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_decimal, format_percent

NO_VALUE = "—"


def _local(moment: datetime, tz: tzinfo | None) -> datetime:
    return moment.astimezone(tz) if tz is not None and moment.tzinfo is not None else moment


# Babel formats one value in tens of microseconds; a report page writes tens of thousands of
# counts, days and times that repeat (0 to a few hundred, the same days and slot times), so the
# written forms are kept per process.
_REMEMBERED = 8192


@lru_cache(maxsize=_REMEMBERED)
def _day(value: date, language: str) -> str:
    return format_date(value, "medium", locale=language)


@lru_cache(maxsize=_REMEMBERED)
def _clock(value: time, language: str, seconds: bool) -> str:
    return format_time(value, "medium" if seconds else "short", locale=language)


@lru_cache(maxsize=_REMEMBERED)
def _whole_number(value: int, language: str) -> str:
    return format_decimal(value, locale=language)


def day(value: date | datetime, language: str, tz: tzinfo | None = None) -> str:
    """A calendar day: 2026/11/20 in Japanese, Nov 20, 2026 in English."""
    if isinstance(value, datetime):
        value = _local(value, tz).date()
    return _day(value, language)


def clock(value: datetime | time, language: str, tz: tzinfo | None = None,
          seconds: bool = False) -> str:
    """A time of day: 18:05 in Japanese, 6:05 PM in English (with seconds if asked)."""
    if isinstance(value, datetime):
        value = _local(value, tz).time()
    return _clock(value, language, seconds)


def moment(value: datetime, language: str, tz: tzinfo | None = None,
           seconds: bool = False) -> str:
    """A day and a time of day, joined the way the language joins them."""
    local = _local(value, tz)
    # CLDR's own short date+time writes two-digit years in English (11/20/26); a medium date
    # with a short time reads unambiguously in both languages.
    pattern = get_datetime_format("medium", locale=language).replace("'", "")
    return pattern.replace("{0}", clock(local, language, seconds=seconds)).replace(
        "{1}", day(local, language))


def number(value: float | None, language: str) -> str:
    """A count or amount with the language's digit grouping, or a dash when there is none."""
    if value is None:
        return NO_VALUE
    if type(value) is int:
        return _whole_number(value, language)
    return format_decimal(value, locale=language)


def percent(value: float | None, language: str) -> str:
    """A 0-100 value as a whole percentage, or a dash when there is none."""
    return NO_VALUE if value is None else format_percent(value / 100, locale=language)
