"""SQL pieces shared by the live and history queries, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Float, and_, cast, func, literal, or_
from sqlalchemy.orm import Session

from call_queue.line_metrics.definitions import SELF_SERVED_OUTCOMES
from madoguchi.models import Call


def seconds_between(session: Session, later, earlier) -> ColumnElement[float]:
    """`later - earlier` in seconds as an SQL expression for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    # julianday is a float of days: round to the millisecond so 63000 s is not 62999.99999.
    return cast(func.round((func.julianday(later) - func.julianday(earlier))
                           * literal(86400.0), 3), Float)


# The conditions of call_queue.line_metrics.definitions, written as SQL.
PUT_IN_LINE = Call.queued_at.is_not(None)
ANSWERED = and_(PUT_IN_LINE, Call.operator_id.is_not(None), Call.answered_at.is_not(None))
NOT_ANSWERED = or_(Call.operator_id.is_(None), Call.answered_at.is_(None))
ABANDONED = and_(PUT_IN_LINE, NOT_ANSWERED, Call.outcome == "abandoned")
TOOK_CALLBACK = and_(PUT_IN_LINE, NOT_ANSWERED, Call.outcome == "callback")
WAIT_ENDED = or_(ANSWERED, ABANDONED, TOOK_CALLBACK)
SELF_SERVED = and_(Call.queued_at.is_(None), Call.ended_at.is_not(None),
                   Call.outcome.in_(SELF_SERVED_OUTCOMES))
INBOUND = Call.direction == "inbound"


def holding(now) -> ColumnElement[bool]:
    """Callers still waiting for a person at `now` (the same rule as call_queue.line)."""
    return and_(PUT_IN_LINE, Call.queued_at <= now, Call.answered_at.is_(None),
                Call.ended_at.is_(None), Call.operator_id.is_(None),
                or_(Call.outcome.is_(None), Call.outcome != "callback"))
