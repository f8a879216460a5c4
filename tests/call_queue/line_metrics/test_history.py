"""History buckets: the database's GROUP BY gives what the definitions give on the same calls."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from call_queue.line_metrics import history
from madoguchi.models import CallbackAttempt, CallbackRequest
from tests import factories
from tests.call_queue.line_metrics.history_fixture import at, store

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = date(2026, 11, 20)  # the constructed calls fall between 16:30 and 19:00 in Tokyo


def _attempts(session) -> list[tuple]:
    first, second = session.scalars(select(CallbackRequest.id).order_by(CallbackRequest.id)
                                    .limit(2)).all()
    made = [(first, 1, at(9, 5), "completed"), (second, 1, at(9, 44), "no-answer"),
            (second, 2, at(9, 50), "completed")]
    for request_id, attempt_no, started, status in made:
        session.add(CallbackAttempt(request_id=request_id, attempt_no=attempt_no,
                                    started_at=started, status=status))
    session.commit()
    return [(started, status) for _, _, started, status in made]


def test_a_day_from_the_database_matches_the_definitions_bucket_for_bucket(db_session):
    calls = list(store(db_session, factories.operator(db_session).id).values())
    attempts = _attempts(db_session)
    found = history.load(db_session, DAY, DAY, TOKYO, 60)
    start = history._local_midnight(DAY, TOKYO)
    volume, levels, callbacks = history.bucket_calls(
        calls, attempts, start, start + timedelta(days=1), daily=False, threshold_seconds=60)
    assert [vars(b) for b in found.volume] == [vars(b) for b in volume]
    assert [vars(b) for b in found.levels] == [vars(b) for b in levels]
    assert [vars(b) for b in found.callbacks] == [vars(b) for b in callbacks]
    assert found.waits == history.wait_distribution(c for c in calls if c.queued_at)


def test_a_day_s_buckets_hold_the_hand_counted_calls(db_session):
    store(db_session, factories.operator(db_session).id)
    _attempts(db_session)
    found = history.load(db_session, DAY, DAY, TOKYO, 60)
    assert len(found.volume) == 96 and len(found.levels) == 24
    by_time = {b.start.astimezone(TOKYO).strftime("%H:%M"): b for b in found.volume}
    # 18:15-18:30 Tokyo (09:15-09:30 UTC): D answered; 18:30-18:45: E abandoned.
    assert (by_time["18:15"].answered, by_time["18:30"].abandoned) == (1, 1)
    # 18:45-19:00: H hung up in the menu (counted nowhere here), K asked for a callback.
    assert (by_time["18:45"].callback, by_time["18:45"].self_served) == (1, 0)
    hour = {b.start.astimezone(TOKYO).hour: b for b in found.levels}
    assert (hour[17].counted, hour[17].answered_within) == (1, 1)  # I, 20 s
    assert (hour[18].counted, hour[18].answered_within) == (4, 1)  # C, D, E, F
    callbacks = {b.start.astimezone(TOKYO).hour: b for b in found.callbacks}
    assert (callbacks[18].placed, callbacks[18].reached) == (3, 2)
    # Waits: I 20 s; C 30 s (a bar holds its lower bound); D answered and E gone after 120 s.
    assert found.waits == [("0 s–30 s", 1, 0), ("30 s–1 min", 1, 0), ("1 min–2 min", 0, 0),
                           ("2 min–5 min", 1, 1), ("5 min–10 min", 0, 0), ("10 min+", 0, 0)]
    assert found.totals.calls == 10 and found.totals.service_level == pytest.approx(0.4)


def test_a_range_of_days_is_shown_one_bucket_per_day(db_session):
    store(db_session, factories.operator(db_session).id)
    found = history.load(db_session, DAY - timedelta(days=2), DAY, TOKYO, 60)
    assert found.daily and len(found.volume) == 3 and len(found.levels) == 3
    assert found.volume[-1].answered == 3 and found.volume[0].answered == 0


@pytest.mark.parametrize(("first", "last"), [(DAY, DAY - timedelta(days=1)),
                                             (DAY, DAY + timedelta(days=31))])
def test_a_reversed_or_too_long_range_is_refused(first, last):
    with pytest.raises(history.RangeError):
        history.check_range(first, last, DAY)


def test_one_date_alone_means_that_day_and_none_means_today():
    assert history.check_range(DAY, None, date(2026, 12, 1)) == (DAY, DAY)
    assert history.check_range(None, None, DAY) == (DAY, DAY)



def test_the_totals_summed_from_the_buckets_equal_the_line_summary_of_the_range(db_session):
    from dataclasses import asdict

    from call_queue.line_metrics import live

    store(db_session, factories.operator(db_session).id)
    for first, last in ((DAY, DAY), (DAY - timedelta(days=2), DAY)):
        found = history.load(db_session, first, last, TOKYO, 60)
        start = history._local_midnight(first, TOKYO)
        end = history._local_midnight(last + timedelta(days=1), TOKYO)
        expected = asdict(live.line_summary(db_session, start, end, 60))
        totals = asdict(found.totals)
        assert totals.pop("answered_wait_seconds") == pytest.approx(
            expected.pop("answered_wait_seconds"))
        assert totals == expected and totals["calls"] == 10


def test_calls_across_the_range_s_midnights_count_where_they_started_or_were_put_in_line(
        db_session):
    from dataclasses import asdict
    from datetime import UTC, datetime

    from call_queue.line_metrics import live
    from call_queue.line_metrics.definitions import CallRecord
    from madoguchi.models import Call

    operator = factories.operator(db_session).id
    start = history._local_midnight(DAY, TOKYO)
    end = start + timedelta(days=1)
    second = timedelta(seconds=1)
    calls = [
        # Rang just before the day and put in line just after its midnight: service level only.
        CallRecord(start - 30 * second, start + 10 * second, start + 40 * second,
                   start + 300 * second, "queued", operator),
        # Rang just before the day ended, gave up in line after it: volume and wait bars only.
        CallRecord(end - 30 * second, end + 20 * second, None, end + 120 * second,
                   "abandoned"),
        # Within the day, answered after 75 s; and one outside the range altogether.
        CallRecord(start + timedelta(hours=9), start + timedelta(hours=9, seconds=20),
                   start + timedelta(hours=9, seconds=95), start + timedelta(hours=9, minutes=5),
                   "queued", operator),
        CallRecord(end + timedelta(hours=1), end + timedelta(hours=1, seconds=5), None,
                   end + timedelta(hours=1, minutes=1), "callback"),
    ]
    for number, record in enumerate(calls):
        db_session.add(Call(
            call_sid=f"CA-midnight-{number}", direction="inbound", started_at=record.started_at,
            queued_at=record.queued_at, answered_at=record.answered_at,
            ended_at=record.ended_at, outcome=record.outcome, operator_id=record.operator_id,
            status="completed", path=[]))
    db_session.commit()
    assert start.astimezone(UTC) == datetime(2026, 11, 19, 15, tzinfo=UTC)

    found = history.load(db_session, DAY, DAY, TOKYO, 60)
    volume, levels, _ = history.bucket_calls(calls, [], start, end, daily=False,
                                             threshold_seconds=60)
    assert [vars(b) for b in found.volume] == [vars(b) for b in volume]
    assert [vars(b) for b in found.levels] == [vars(b) for b in levels]
    assert found.waits == history.wait_distribution(
        c for c in calls if c.queued_at and start <= c.started_at < end)
    assert sum(b.counted for b in found.levels) == 2  # the first and third calls
    assert sum(b.abandoned for b in found.volume) == 1  # the second
    totals, expected = asdict(found.totals), asdict(live.line_summary(db_session, start, end, 60))
    assert totals.pop("answered_wait_seconds") == pytest.approx(
        expected.pop("answered_wait_seconds"))
    assert totals == expected
