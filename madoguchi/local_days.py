"""The local calendar day of a moment, computed by the database (SQLite and PostgreSQL alike).

Reports that count per day group rows by the day they fall on in the city's time zone. Neither
database knows the city's zone rules the same way (SQLite knows none), so the zone's offsets
over the range are worked out here and written into the query: the day of a moment t is
floor((t in Unix seconds + the zone's offset at t) / 86400) days after 1970-01-01, exact to the
second on both backends, with a CASE over the few moments in the range at which the offset
changes (none for Japan).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Integer, case, cast, func, literal
from sqlalchemy.orm import Session

from madoguchi.models import UTCDateTime

EPOCH_DAY = date(1970, 1, 1)
DAY_SECONDS = 86400


def _offset(moment: datetime, tz: ZoneInfo) -> int:
    return int(moment.astimezone(tz).utcoffset().total_seconds())


def _change_between(earlier: datetime, later: datetime, tz: ZoneInfo) -> datetime:
    """The first whole second in (earlier, later] whose offset is later's (bisection)."""
    target = _offset(later, tz)
    low, high = int(earlier.timestamp()), int(later.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(datetime.fromtimestamp(middle, UTC), tz) == target:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def offsets(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime | None, int]]:
    """The zone's offsets in seconds over [start, end): (from this moment on, offset), the first
    with None; one entry when the offset never changes in the range."""
    found: list[tuple[datetime | None, int]] = [(None, _offset(start, tz))]
    moment = start.astimezone(UTC)
    end = end.astimezone(UTC)
    while moment < end:
        following = min(moment + timedelta(hours=12), end)
        if _offset(following, tz) != found[-1][1]:
            change = _change_between(moment, following, tz)
            found.append((change, _offset(change, tz)))
        moment = following
    return found


def unix_seconds(session: Session, column) -> ColumnElement:
    """Whole seconds since 1970 of a UTC moment column, rounded down."""
    if session.get_bind().dialect.name == "postgresql":
        return func.floor(func.extract("epoch", column))
    # SQLite stores UTC text (YYYY-MM-DD HH:MM:SS.ffffff). Its date functions round the
    # fraction to milliseconds, which would carry 23:59:59.9996 into the next day: the whole
    # seconds are read from the text without it.
    return cast(func.strftime("%s", func.substr(column, 1, 19)), Integer)


def day_number(session: Session, column, start: datetime, end: datetime,
               tz: ZoneInfo) -> ColumnElement[int]:
    """The local day of the moment column as days since 1970-01-01 (see day_of), for rows
    whose moment lies in [start, end)."""
    changes = offsets(start, end, tz)
    if len(changes) == 1:
        offset: ColumnElement = literal(changes[0][1])
    else:
        offset = case(*((column < literal(moment, UTCDateTime()), previous)
                        for (moment, _), (_, previous) in zip(changes[1:], changes, strict=False)),
                      else_=changes[-1][1])
    seconds = unix_seconds(session, column) + offset
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(seconds / DAY_SECONDS), Integer)
    # Positive integers on SQLite: integer division is the floor.
    return cast(seconds / DAY_SECONDS, Integer)


def day_of(number: int) -> date:
    """The calendar day that day_number gave as a number."""
    return EPOCH_DAY + timedelta(days=int(number))
