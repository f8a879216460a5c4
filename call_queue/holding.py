"""Callers holding for a person: their place in line, an honest estimate, leaving the line.

A holder's place is Call.queued_at. A caller who hung up while holding and calls back within
the return window gets the earlier place back. Call.answered_at is cleared on joining: for a
call in the line it means "answered by an operator", which is what handle times are measured
from (answered_at to ended_at).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from call_queue import estimator, line
from madoguchi.models import Call
from madoguchi.sealing import blind

# Recent calls the estimates learn from (the wait benchmark found 200 steadier than 50).
HISTORY_CALLS = 200


@dataclass(frozen=True)
class Standing:
    """Where a holder stands: parties ahead, 1-based position, and the wait estimate."""

    ahead: int
    position: int
    estimate: estimator.WaitEstimate | None


def earlier_place(session: Session, call: Call, now: datetime,
                  window_minutes: int) -> datetime | None:
    """The place of this number's call that hung up while holding within the window, if any."""
    if not call.from_e164 or window_minutes <= 0:
        return None
    since = now - timedelta(minutes=window_minutes)
    return session.scalar(
        select(Call.queued_at).where(
            blind.matches(Call.from_digest, "phone", call.from_e164), Call.id != call.id,
            Call.queued_at.is_not(None), Call.operator_id.is_(None),
            Call.outcome == "abandoned", Call.ended_at >= since,
        ).order_by(Call.queued_at).limit(1)
    )


def join(session: Session, call: Call, now: datetime, window_minutes: int) -> datetime:
    """Put a call in the line (keeping an earlier place when it has one); commits."""
    if call.queued_at is None:
        call.queued_at = earlier_place(session, call, now, window_minutes) or now
    call.answered_at = None
    call.operator_id = None
    call.outcome = "queued"
    session.commit()
    return call.queued_at


def leave_hung_up(session: Session, call: Call, waited_seconds: int | None,
                  now: datetime) -> int | None:
    """Record a holder who hung up as abandoned, with the time waited; commits.

    Returns the operator to free when one had just taken the call but never reached the caller.
    """
    if call.operator_id is not None and call.answered_at is not None:
        return None  # they spoke with the operator: not an abandon
    stranded = call.operator_id
    call.operator_id = None
    call.outcome = "abandoned"
    call.ended_at = call.ended_at or now
    if waited_seconds is not None and call.queued_at is not None:
        call.ended_at = min(call.ended_at, call.queued_at + timedelta(seconds=waited_seconds))
    session.commit()
    return stranded


def leave_for_callback(session: Session, call: Call) -> datetime | None:
    """Take a holder out of the line for a callback; returns the place the request keeps."""
    call.outcome = "callback"
    session.commit()
    return call.queued_at


def recent_handle_seconds(session: Session, limit: int = HISTORY_CALLS) -> list[float]:
    """Handle times of the latest calls operators answered and finished."""
    rows = session.execute(
        select(Call.answered_at, Call.ended_at)
        .where(Call.operator_id.is_not(None), Call.queued_at.is_not(None),
               Call.answered_at.is_not(None), Call.ended_at.is_not(None))
        .order_by(Call.ended_at.desc()).limit(limit)
    )
    return [(ended - answered).total_seconds() for answered, ended in rows]


def recent_waits(session: Session, limit: int = HISTORY_CALLS) -> list[tuple[float, bool]]:
    """(seconds waited, gave up?) of the latest holders who were answered or hung up."""
    rows = session.execute(
        select(Call.queued_at, Call.answered_at, Call.ended_at, Call.outcome)
        .where(Call.queued_at.is_not(None),
               (Call.answered_at.is_not(None)) | (Call.outcome == "abandoned"),
               Call.ended_at.is_not(None))
        .order_by(Call.ended_at.desc()).limit(limit)
    )
    waits = []
    for queued, answered, ended, outcome in rows:
        gave_up = answered is None and outcome == "abandoned"
        seconds = ((ended if gave_up else answered) - queued).total_seconds()
        waits.append((max(seconds, 0.0), gave_up))
    return waits


def standing(session: Session, call: Call, operators_on_duty: int, now: datetime,
             prior_handle_seconds: float = estimator.DEFAULT_HANDLE_SECONDS) -> Standing:
    """The holder's position and estimated wait (None when nobody is on duty)."""
    arrival = call.queued_at or now
    ahead = line.ahead_of(session, arrival, now)
    handle = estimator.mean_handle_time(recent_handle_seconds(session), prior_handle_seconds)
    patience = estimator.mean_patience(recent_waits(session))
    wait = estimator.estimate(ahead, operators_on_duty, handle, patience)
    return Standing(ahead, ahead + 1, wait)
