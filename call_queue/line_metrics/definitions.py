"""What each of the supervisors' numbers means, as pure functions over call records.

A call's fields tell its story (see madoguchi.calls and call_queue.holding):

- put in line: the caller asked for a person and was placed in the line (`queued_at` set);
- answered: an operator took the call (`operator_id` and `answered_at` set on a call put in
  line); its wait is `answered_at - queued_at`;
- abandoned: put in line, then hung up before an operator answered (outcome "abandoned").
  Callers who left the line for a callback (outcome "callback") are NOT abandoned: they keep
  their place and are called back;
- self-served: finished in the menu without a person (outcome "booked" or "self_served",
  never put in line).

Service level = callers answered within the threshold / callers put in line whose wait has
ended (answered, abandoned, or left for a callback). Callers still holding are not counted
until their wait ends. Abandonment rate uses the same denominator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

SELF_SERVED_OUTCOMES = ("booked", "self_served")


@dataclass(frozen=True)
class CallRecord:
    """The fields of one call that the metrics read."""

    started_at: datetime
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    outcome: str | None = None
    operator_id: int | None = None
    direction: str = "inbound"


def put_in_line(call: CallRecord) -> bool:
    """The caller asked for a person and was placed in the line."""
    return call.queued_at is not None


def answered(call: CallRecord) -> bool:
    """An operator took the call after it was put in line."""
    return put_in_line(call) and call.operator_id is not None and call.answered_at is not None


def abandoned(call: CallRecord) -> bool:
    """Put in line, then hung up before an operator answered (a callback is not abandoning)."""
    return put_in_line(call) and not answered(call) and call.outcome == "abandoned"


def took_callback(call: CallRecord) -> bool:
    """Left the line to be called back, keeping the place."""
    return put_in_line(call) and not answered(call) and call.outcome == "callback"


def wait_ended(call: CallRecord) -> bool:
    """The caller's wait is over: answered, abandoned, or left for a callback."""
    return answered(call) or abandoned(call) or took_callback(call)


def holding(call: CallRecord, now: datetime) -> bool:
    """Still waiting on the line for a person at `now` (as call_queue.line counts holders)."""
    return (put_in_line(call) and call.queued_at <= now and call.answered_at is None
            and call.ended_at is None and call.operator_id is None
            and call.outcome != "callback")


def wait_seconds(call: CallRecord) -> float | None:
    """How long the caller waited in line: to the answer, or to hanging up; None otherwise."""
    if answered(call):
        return max((call.answered_at - call.queued_at).total_seconds(), 0.0)
    if abandoned(call) and call.ended_at is not None:
        return max((call.ended_at - call.queued_at).total_seconds(), 0.0)
    return None


def self_served(call: CallRecord) -> bool:
    """Finished in the menu without a person (booked or answered by the menu itself)."""
    return (not put_in_line(call) and call.ended_at is not None
            and call.outcome in SELF_SERVED_OUTCOMES)


def handle_seconds(call: CallRecord) -> float | None:
    """Talk time of an answered call that has ended (answer to hang-up)."""
    if answered(call) and call.ended_at is not None:
        return max((call.ended_at - call.answered_at).total_seconds(), 0.0)
    return None


@dataclass(frozen=True)
class LineSummary:
    """The counts behind the tiles for one window of time."""

    calls: int = 0
    finished: int = 0
    self_served: int = 0
    put_in_line: int = 0
    wait_ended: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    callbacks_taken: int = 0
    answered_wait_seconds: float = 0.0

    @property
    def service_level(self) -> float | None:
        """Share answered within the threshold of callers whose wait ended; None if none."""
        return self.answered_within / self.wait_ended if self.wait_ended else None

    @property
    def abandoned_rate(self) -> float | None:
        """Share abandoned of callers whose wait ended; None if none."""
        return self.abandoned / self.wait_ended if self.wait_ended else None

    @property
    def average_speed_of_answer(self) -> float | None:
        """Mean wait of the answered callers in seconds; None if nobody was answered."""
        return self.answered_wait_seconds / self.answered if self.answered else None

    @property
    def self_served_share(self) -> float | None:
        """Share of finished inbound calls that ended in the menu without a person."""
        return self.self_served / self.finished if self.finished else None


def summarize(calls: Iterable[CallRecord], start: datetime, end: datetime,
              threshold_seconds: float) -> LineSummary:
    """The window's numbers: calls by when they started, line metrics by when put in line."""
    totals = dict.fromkeys(("calls", "finished", "self_served", "put_in_line", "wait_ended",
                            "answered", "answered_within", "abandoned", "callbacks_taken"), 0)
    waited = 0.0
    for call in calls:
        if call.direction != "inbound":
            continue
        if start <= call.started_at < end:
            totals["calls"] += 1
            totals["finished"] += call.ended_at is not None
            totals["self_served"] += self_served(call)
        if not (put_in_line(call) and start <= call.queued_at < end):
            continue
        totals["put_in_line"] += 1
        totals["wait_ended"] += wait_ended(call)
        totals["abandoned"] += abandoned(call)
        totals["callbacks_taken"] += took_callback(call)
        if answered(call):
            wait = wait_seconds(call)
            totals["answered"] += 1
            totals["answered_within"] += wait <= threshold_seconds
            waited += wait
    return LineSummary(**totals, answered_wait_seconds=waited)
