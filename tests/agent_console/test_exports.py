"""Export rows: every row of the range once, in time order, across batch boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from agent_console.services import exports
from agent_console.services.exports import ExportChoice, ExportError, shown_phone
from madoguchi.models import Call

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = date(2031, 10, 6)


def test_batches_cover_every_call_once_even_when_start_times_tie(db_session, monkeypatch):
    monkeypatch.setattr(exports, "BATCH_ROWS", 2)
    nine = datetime(2031, 10, 6, 9, 0, tzinfo=TOKYO).astimezone(UTC)
    starts = [nine, nine, nine, nine + timedelta(minutes=1), nine + timedelta(minutes=2)]
    db_session.add_all([Call(call_sid=f"CA{index}", started_at=start)
                        for index, start in enumerate(starts)])
    db_session.flush()
    choice = ExportChoice("calls", DAY, DAY)
    found = [row[1] for row in exports.rows(db_session, choice, TOKYO, reveal_phones=False)]
    assert found == ["CA0", "CA1", "CA2", "CA3", "CA4"]
    assert exports.count_rows(db_session, choice, TOKYO) == 5


def test_the_range_is_whole_local_days_in_the_city(db_session):
    db_session.add_all([
        Call(call_sid="CA-before", started_at=datetime(2031, 10, 5, 23, 59, tzinfo=TOKYO)),
        Call(call_sid="CA-first", started_at=datetime(2031, 10, 6, 0, 0, tzinfo=TOKYO)),
        Call(call_sid="CA-last", started_at=datetime(2031, 10, 7, 23, 59, 59, tzinfo=TOKYO)),
        Call(call_sid="CA-after", started_at=datetime(2031, 10, 8, 0, 0, tzinfo=TOKYO)),
    ])
    db_session.flush()
    choice = ExportChoice("calls", DAY, date(2031, 10, 7))
    found = [row[1] for row in exports.rows(db_session, choice, TOKYO, reveal_phones=True)]
    assert found == ["CA-first", "CA-last"]


def test_numbers_are_written_the_japanese_way_and_masked_unless_revealed():
    assert shown_phone("+819012345678", reveal=True) == "090-1234-5678"
    assert shown_phone("+819012345678", reveal=False) == "*******5678"
    assert shown_phone(None, reveal=True) == ""


def test_a_choice_is_checked_before_anything_is_read():
    with pytest.raises(ExportError) as unknown:
        exports.check_choice(ExportChoice("residents", DAY, DAY))
    assert unknown.value.key == "export_kind_unknown"
    with pytest.raises(ExportError) as reversed_range:
        exports.check_choice(ExportChoice("calls", DAY, DAY - timedelta(days=1)))
    assert reversed_range.value.key == "range_reversed"
