"""A day or a range of days in buckets for the history charts, in the city's time zone.

One day is shown in 15-minute buckets (service level and callbacks per hour); a longer range
in one bucket per day. `bucket_calls` and `wait_distribution` state the buckets over call
records; `load` has the database compute the same numbers with GROUP BY, so a day's report on a
large history reads a few hundred aggregate rows instead of every call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from call_queue.line_metrics import definitions as d
from call_queue.line_metrics import sql
from madoguchi.models import Call, CallbackAttempt, UTCDateTime

MAX_DAYS = 31
# Upper bounds of the wait-time bars, in seconds; the last bar is everything longer.
WAIT_BOUNDS = (30, 60, 120, 300, 600)
REACHED_ATTEMPT_STATUS = "completed"


class RangeError(ValueError):
    """The dates asked for are not a usable range."""


@dataclass
class VolumeBucket:
    """Calls that started in one bucket, by how they ended."""

    start: datetime
    answered: int = 0
    abandoned: int = 0
    callback: int = 0
    self_served: int = 0


@dataclass
class LevelBucket:
    """Service level of callers put in line in one bucket."""

    start: datetime
    counted: int = 0
    answered_within: int = 0

    @property
    def percent(self) -> float | None:
        """Share answered within the threshold, 0 to 100; None when nobody was counted."""
        return 100 * self.answered_within / self.counted if self.counted else None


@dataclass
class CallbackBucket:
    """Callback calls dialled in one bucket, and how many reached the resident."""

    start: datetime
    placed: int = 0
    reached: int = 0


@dataclass
class History:
    """Everything the history page charts for one range."""

    first_day: date
    last_day: date
    daily: bool
    volume: list[VolumeBucket]
    waits: list[tuple[str, int, int]]
    levels: list[LevelBucket]
    callbacks: list[CallbackBucket]
    totals: d.LineSummary = field(default_factory=d.LineSummary)


def check_range(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The range to show (today when none given); RangeError when reversed or too long."""
    first = first or last or today
    last = last or first
    if last < first or (last - first).days + 1 > MAX_DAYS:
        raise RangeError(f"from {first} to {last}: the first day must not be after the last, "
                         f"and at most {MAX_DAYS} days may be shown")
    return first, last


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _buckets(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    moments, moment = [], start
    while moment < end:
        moments.append(moment)
        moment += step
    return moments


def _index(moment: datetime, start: datetime, step: timedelta, count: int) -> int | None:
    position = int((moment - start) // step)
    return position if 0 <= position < count else None


def wait_label(low: int, high: int | None) -> str:
    """A wait bar's label such as "1–2 min" or "10 min+", from its bounds in seconds."""
    def words(seconds: int) -> str:
        return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min"
    return f"{words(low)}+" if high is None else f"{words(low)}–{words(high)}"


def wait_distribution(calls: Iterable[d.CallRecord]) -> list[tuple[str, int, int]]:
    """(bar label, answered, abandoned) of callers by how long they waited in line."""
    lows = (0, *WAIT_BOUNDS)
    highs = (*WAIT_BOUNDS, None)
    answered, gave_up = [0] * len(lows), [0] * len(lows)
    for call in calls:
        wait = d.wait_seconds(call)
        if wait is None:
            continue
        bar = next(i for i, high in enumerate(highs) if high is None or wait < high)
        (answered if d.answered(call) else gave_up)[bar] += 1
    return [(wait_label(low, high), answered[i], gave_up[i])
            for i, (low, high) in enumerate(zip(lows, highs, strict=True))]


def bucket_calls(calls: list[d.CallRecord], attempts: list[tuple[datetime, str]],
                 start: datetime, end: datetime, *, daily: bool,
                 threshold_seconds: float) -> tuple[list, list, list]:
    """Volume, service-level and callback buckets over [start, end) (pure)."""
    volume_step = timedelta(days=1) if daily else timedelta(minutes=15)
    hour_step = timedelta(days=1) if daily else timedelta(hours=1)
    volume = [VolumeBucket(moment) for moment in _buckets(start, end, volume_step)]
    levels = [LevelBucket(moment) for moment in _buckets(start, end, hour_step)]
    callbacks = [CallbackBucket(moment) for moment in _buckets(start, end, hour_step)]
    for call in calls:
        if call.direction != "inbound":
            continue
        slot = _index(call.started_at, start, volume_step, len(volume))
        if slot is not None:
            bucket = volume[slot]
            bucket.answered += d.answered(call)
            bucket.abandoned += d.abandoned(call)
            bucket.callback += d.took_callback(call) or (
                not d.put_in_line(call) and call.outcome == "callback")
            bucket.self_served += d.self_served(call)
        if d.put_in_line(call) and d.wait_ended(call):
            slot = _index(call.queued_at, start, hour_step, len(levels))
            if slot is not None:
                levels[slot].counted += 1
                levels[slot].answered_within += (
                    d.answered(call) and d.wait_seconds(call) <= threshold_seconds)
    for started, status in attempts:
        slot = _index(started, start, hour_step, len(callbacks))
        if slot is not None:
            callbacks[slot].placed += 1
            callbacks[slot].reached += status == REACHED_ATTEMPT_STATUS
    return volume, levels, callbacks


def _bucket(session: Session, column, start: datetime, step: timedelta):
    """The bucket number of a moment as SQL: whole steps since `start` (moments >= start)."""
    since = sql.seconds_between(session, column, literal(start, UTCDateTime()))
    steps = since / step.total_seconds()
    # PostgreSQL rounds when casting to integer, SQLite truncates: floor first where needed.
    if session.get_bind().dialect.name == "postgresql":
        steps = func.floor(steps)
    return cast(steps, Integer)


def _calls(session: Session, start: datetime, end: datetime, volume_step: timedelta,
           hour_step: timedelta, threshold_seconds: float, volume: list[VolumeBucket],
           levels: list[LevelBucket]) -> tuple[list[tuple[str, int, int]], d.LineSummary]:
    """Fill the volume and service-level buckets and count the wait bars, in one statement
    over the range's calls; returns the bars and the range's totals (LineSummary's numbers).

    Each call falls in a group by its volume bucket (when it started in the range), its
    service-level bucket (when it was put in line in the range) and its wait bar (when it
    started in the range and was answered, or abandoned and ended): the same numbers as one
    statement per chart, reading the month's calls once instead of three times."""
    started_in = and_(Call.started_at >= start, Call.started_at < end)
    queued_in = and_(Call.queued_at >= start, Call.queued_at < end)
    volume_slot = case((started_in, _bucket(session, Call.started_at, start, volume_step)),
                       else_=None).label("volume_slot")
    level_slot = case((queued_in, _bucket(session, Call.queued_at, start, hour_step)),
                      else_=None).label("level_slot")
    waited = case((sql.ANSWERED, sql.seconds_between(session, Call.answered_at, Call.queued_at)),
                  else_=sql.seconds_between(session, Call.ended_at, Call.queued_at))
    bar = case((and_(started_in, or_(sql.ANSWERED, and_(sql.ABANDONED,
                                                         Call.ended_at.is_not(None)))),
                case(*((waited < high, index) for index, high in enumerate(WAIT_BOUNDS)),
                     else_=len(WAIT_BOUNDS))),
               else_=None).label("bar")
    answer_wait = sql.seconds_between(session, Call.answered_at, Call.queued_at)
    longest = func.greatest(answer_wait, 0.0) if session.get_bind().dialect.name == "postgresql" \
        else func.max(answer_wait, 0.0)
    menu_callback = and_(Call.queued_at.is_(None), Call.outcome == "callback")
    rows = session.execute(
        select(volume_slot, level_slot, bar, func.count(), func.count().filter(sql.ANSWERED),
               func.count().filter(sql.ABANDONED),
               func.count().filter(or_(sql.TOOK_CALLBACK, menu_callback)),
               func.count().filter(sql.SELF_SERVED), func.count(Call.ended_at),
               func.count().filter(sql.WAIT_ENDED),
               func.count().filter(sql.ANSWERED, answer_wait <= threshold_seconds),
               func.count().filter(sql.TOOK_CALLBACK), func.sum(longest).filter(sql.ANSWERED))
        .where(sql.INBOUND, or_(started_in, queued_in))
        .group_by(volume_slot, level_slot, bar))
    calls = finished = self_served_total = 0
    line = [0, 0, 0, 0, 0, 0]  # put in line, wait ended, answered, within, abandoned, callbacks
    wait_sum = 0.0
    bars = [[0, 0] for _ in range(len(WAIT_BOUNDS) + 1)]
    for (volume_index, level_index, bar_index, n, answered, abandoned, callback, self_served,
         ended, wait_ended, within, took_callback, waited_sum) in rows:
        n, answered, abandoned = int(n), int(answered), int(abandoned)
        if volume_index is not None:
            calls, finished = calls + n, finished + int(ended)
            self_served_total += int(self_served)
            if 0 <= volume_index < len(volume):
                bucket = volume[volume_index]
                bucket.answered += answered
                bucket.abandoned += abandoned
                bucket.callback += int(callback)
                bucket.self_served += int(self_served)
        if level_index is not None:
            for position, value in enumerate((n, int(wait_ended), answered, int(within),
                                              abandoned, int(took_callback))):
                line[position] += value
            wait_sum += float(waited_sum or 0.0)
            if 0 <= level_index < len(levels):
                levels[level_index].counted += int(wait_ended)
                levels[level_index].answered_within += int(within)
        if bar_index is not None:
            bars[int(bar_index)][0] += answered
            bars[int(bar_index)][1] += abandoned
    lows, highs = (0, *WAIT_BOUNDS), (*WAIT_BOUNDS, None)
    waits = [(wait_label(low, high), *bars[index])
             for index, (low, high) in enumerate(zip(lows, highs, strict=True))]
    totals = d.LineSummary(
        calls=calls, finished=finished, self_served=self_served_total, put_in_line=line[0],
        wait_ended=line[1], answered=line[2], answered_within=line[3], abandoned=line[4],
        callbacks_taken=line[5], answered_wait_seconds=wait_sum)
    return waits, totals


def _callbacks(session: Session, start: datetime, end: datetime, step: timedelta,
               buckets: list[CallbackBucket]) -> None:
    slot = _bucket(session, CallbackAttempt.started_at, start, step).label("slot")
    rows = session.execute(
        select(slot, func.count(),
               func.count().filter(CallbackAttempt.status == REACHED_ATTEMPT_STATUS))
        .where(CallbackAttempt.started_at >= start, CallbackAttempt.started_at < end)
        .group_by(slot))
    for index, placed, reached in rows:
        if 0 <= index < len(buckets):
            buckets[index].placed, buckets[index].reached = int(placed), int(reached)


def load(session: Session, first: date, last: date, zone: ZoneInfo,
         threshold_seconds: float) -> History:
    """The charts of the days first..last (local), aggregated by the database.

    The same numbers as bucket_calls and wait_distribution over the same calls (tested).
    """
    start = _local_midnight(first, zone)
    end = _local_midnight(last + timedelta(days=1), zone)
    daily = first != last
    volume_step = timedelta(days=1) if daily else timedelta(minutes=15)
    hour_step = timedelta(days=1) if daily else timedelta(hours=1)
    volume = [VolumeBucket(moment) for moment in _buckets(start, end, volume_step)]
    levels = [LevelBucket(moment) for moment in _buckets(start, end, hour_step)]
    callbacks = [CallbackBucket(moment) for moment in _buckets(start, end, hour_step)]
    # The totals are sums of the same statement's groups (the same numbers as
    # live.line_summary over the range, without scanning the range's calls again).
    waits, totals = _calls(session, start, end, volume_step, hour_step, threshold_seconds,
                           volume, levels)
    _callbacks(session, start, end, hour_step, callbacks)
    return History(first, last, daily, volume, waits, levels, callbacks, totals)
