"""Numbers and days from untrusted text (forms, query strings, webhooks), bounded.

`str.isdigit()` also accepts "²" and other digits `int()` refuses or reads as huge values; a
database id beyond the column's range makes PostgreSQL and SQLite raise; a day in year 1 or 9999
overflows as soon as a time zone or a day is added. These helpers say None instead, so every
caller can answer with a clear 4xx.
"""

from __future__ import annotations

from datetime import date

# The largest id an INTEGER primary key holds on PostgreSQL (and the URL converters accept).
MAX_ID = 2**31 - 1


def parse_whole(raw: str | None, *, max_digits: int = 9) -> int | None:
    """A non-negative whole number written in ASCII digits, at most max_digits long; else None."""
    if not raw or len(raw) > max_digits or not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw)


def parse_id(raw: str | None) -> int | None:
    """A database id (1 … MAX_ID) written in ASCII digits; else None."""
    value = parse_whole(raw, max_digits=10)
    return value if value is not None and 1 <= value <= MAX_ID else None


# Days anything in the city's records can be about: birth dates of the oldest residents to
# bookings and reports far ahead.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2199, 12, 31)


def parse_day(raw: str | None) -> date | None:
    """A YYYY-MM-DD day between FIRST_DAY and LAST_DAY; else None."""
    if not raw or len(raw) != 10 or not raw.isascii():
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None
