"""The database says which local day a moment falls on, as Python's zone rules do."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import literal, select

from madoguchi import local_days
from madoguchi.models import UTCDateTime

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")


def database_day(session, moment: datetime, start: datetime, end: datetime, tz) -> date:
    column = literal(moment, UTCDateTime())
    return local_days.day_of(session.scalar(
        select(local_days.day_number(session, column, start, end, tz))))


def test_a_zone_without_changes_has_one_offset_over_a_year():
    start = datetime(2031, 1, 1, tzinfo=TOKYO)
    assert local_days.offsets(start, start + timedelta(days=365), TOKYO) == [(None, 9 * 3600)]


def test_the_offsets_change_at_the_second_the_clocks_do():
    start = datetime(2031, 3, 1, tzinfo=NEW_YORK)
    changes = local_days.offsets(start, datetime(2031, 12, 1, tzinfo=NEW_YORK), NEW_YORK)
    assert changes == [(None, -5 * 3600),
                       (datetime(2031, 3, 9, 7, 0, tzinfo=UTC), -4 * 3600),
                       (datetime(2031, 11, 2, 6, 0, tzinfo=UTC), -5 * 3600)]


@pytest.mark.parametrize("tz", [TOKYO, NEW_YORK], ids=["Tokyo", "New York"])
def test_every_moment_falls_on_the_local_day_python_gives_it(db_session, tz):
    start = datetime(2031, 3, 1, tzinfo=tz)
    end = datetime(2031, 11, 30, tzinfo=tz)
    edges = [datetime(2031, 3, 9, 0, 0, tzinfo=tz), datetime(2031, 3, 10, 0, 0, tzinfo=tz),
             datetime(2031, 11, 2, 0, 0, tzinfo=tz), datetime(2031, 11, 3, 0, 0, tzinfo=tz),
             datetime(2031, 6, 15, 0, 0, tzinfo=tz)]
    moments = []
    for edge in edges:
        moments += [edge - timedelta(seconds=1), edge - timedelta(microseconds=1), edge,
                    edge + timedelta(microseconds=999_999), edge + timedelta(hours=23, minutes=30)]
    for moment in moments:
        expected = moment.astimezone(tz).date()
        assert database_day(db_session, moment, start, end, tz) == expected, moment
