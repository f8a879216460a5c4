"""The live numbers, computed by SQL aggregates over indexed columns of the last hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from call_queue.line_metrics import sql
from call_queue.line_metrics.definitions import LineSummary
from madoguchi.models import Call, CallbackRequest

WAITING_CALLBACK_STATUSES = ("waiting", "dialing")
LONGEST_CALL = timedelta(hours=12)


@dataclass(frozen=True)
class Holding:
    """Callers holding for a person now and the longest wait among them."""

    count: int
    longest_wait_seconds: float


@dataclass(frozen=True)
class Callbacks:
    """Callback requests not yet reached, and those past their promised time."""

    waiting: int
    overdue: int


def holding_now(session: Session, now: datetime) -> Holding:
    """Who is holding right now (read through the in-progress calls index)."""
    count, first = session.execute(
        select(func.count(), func.min(Call.queued_at)).where(sql.holding(now))
    ).one()
    longest = max((now - first).total_seconds(), 0.0) if first is not None else 0.0
    return Holding(int(count), longest)


def callbacks_waiting(session: Session, now: datetime, promise_minutes: int) -> Callbacks:
    """Callbacks waiting or being dialled; overdue when their promised time has passed.

    The promise runs from when the request was taken, or from the opening time it was
    promised for when it was taken out of hours (window_start).
    """
    promised_from = func.coalesce(CallbackRequest.window_start, CallbackRequest.created_at)
    overdue_before = now - timedelta(minutes=promise_minutes)
    waiting, overdue = session.execute(
        select(func.count(), func.count().filter(promised_from < overdue_before))
        .where(CallbackRequest.status.in_(WAITING_CALLBACK_STATUSES))
    ).one()
    return Callbacks(int(waiting), int(overdue))


def line_summary(session: Session, start: datetime, end: datetime,
                 threshold_seconds: float) -> LineSummary:
    """The window's LineSummary (see definitions.summarize) computed by the database."""
    waited = sql.seconds_between(session, Call.answered_at, Call.queued_at)
    calls, finished, self_served = session.execute(
        select(func.count(), func.count(Call.ended_at), func.count().filter(sql.SELF_SERVED))
        .where(sql.INBOUND, Call.started_at >= start, Call.started_at < end)
    ).one()
    line = session.execute(
        select(
            func.count(),
            func.count().filter(sql.WAIT_ENDED),
            func.count().filter(sql.ANSWERED),
            func.count().filter(sql.ANSWERED, waited <= threshold_seconds),
            func.count().filter(sql.ABANDONED),
            func.count().filter(sql.TOOK_CALLBACK),
            func.sum(func.greatest(waited, 0.0) if _pg(session) else func.max(waited, 0.0))
            .filter(sql.ANSWERED),
        ).where(sql.INBOUND, Call.queued_at >= start, Call.queued_at < end)
    ).one()
    return LineSummary(
        calls=int(calls), finished=int(finished), self_served=int(self_served),
        put_in_line=int(line[0]), wait_ended=int(line[1]), answered=int(line[2]),
        answered_within=int(line[3]), abandoned=int(line[4]), callbacks_taken=int(line[5]),
        answered_wait_seconds=float(line[6] or 0.0),
    )


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def handle_times(session: Session, start: datetime, end: datetime) -> list[float]:
    """Talk times of answered calls that ended in the window, in seconds."""
    talked = sql.seconds_between(session, Call.ended_at, Call.answered_at)
    rows = session.scalars(
        select(talked).where(
            sql.INBOUND, sql.ANSWERED, Call.ended_at >= start, Call.ended_at < end,
            # Bound by the indexed column: nobody is put in line half a day before hanging up.
            Call.queued_at >= start - LONGEST_CALL)
    )
    return [max(float(value), 0.0) for value in rows]


def arrivals(session: Session, start: datetime, end: datetime) -> int:
    """Parties who wanted a person in the window: put in line, or asked for a callback in
    the menu without holding."""
    in_line = session.scalar(
        select(func.count()).where(sql.INBOUND, Call.queued_at >= start, Call.queued_at < end))
    menu_callbacks = session.scalar(
        select(func.count()).where(sql.INBOUND, Call.queued_at.is_(None),
                                   Call.outcome == "callback", Call.started_at >= start,
                                   Call.started_at < end))
    return int(in_line or 0) + int(menu_callbacks or 0)
