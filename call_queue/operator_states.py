"""Operator states kept in Redis for speed and in the database for after a Redis restart."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from call_queue.operators import STATES, OperatorBoard, OperatorState
from madoguchi.events import notify_line_changed
from madoguchi.models import Operator

log = logging.getLogger(__name__)


class UnknownOperator(LookupError):
    """No active operator has this id."""


def persist_state(session: Session, operator_id: int, state: str, since: datetime,
                  until: datetime | None = None) -> None:
    """Write an operator's state to the database (commits)."""
    if state not in STATES:
        raise ValueError(f"unknown operator state {state!r}; expected one of {STATES}")
    result = session.execute(
        update(Operator).where(Operator.id == operator_id, Operator.active.is_(True))
        .values(state=state, state_since=since, state_until=until)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if result.rowcount != 1:
        raise UnknownOperator(f"operator {operator_id} does not exist or is not active")


def set_state(session: Session, board: OperatorBoard, operator_id: int, state: str,
              now: datetime, until: datetime | None = None) -> OperatorState:
    """Put an operator into a state on the board and in the database.

    A disabled account is taken off the board instead (offline): whatever ended, the call's
    end, the retry or the report that follows still happens, and no caller is given to them.
    """
    try:
        persist_state(session, operator_id, state, now, until)
    except UnknownOperator:
        return take_off_the_board(board, operator_id, now)
    saved = board.set_state(operator_id, state, now, until)
    notify_line_changed(board.redis)
    return saved


def set_state_if_unchanged(session: Session, board: OperatorBoard, expected: OperatorState,
                           state: str, now: datetime, until: datetime | None = None) -> bool:
    """set_state, only while the board still shows the operator as `expected`; True if set."""
    if not board.set_state_if_unchanged(expected, state, now, until):
        return False
    try:
        persist_state(session, expected.operator_id, state, now, until)
    except UnknownOperator:
        take_off_the_board(board, expected.operator_id, now)
        return False
    notify_line_changed(board.redis)
    return True


def take_off_the_board(board: OperatorBoard, operator_id: int, now: datetime) -> OperatorState:
    """Offline on the board only: the account is disabled, its database row is left as is."""
    log.warning("operator %d is disabled: taken off the board", operator_id)
    saved = board.set_state(operator_id, "offline", now)
    notify_line_changed(board.redis)
    return saved


def start_wrap_up(session: Session, board: OperatorBoard, operator_id: int, now: datetime,
                  wrap_up_seconds: int) -> OperatorState:
    """After a call: wrap-up for the configured time, then available by itself."""
    if wrap_up_seconds <= 0:
        return set_state(session, board, operator_id, "available", now)
    return set_state(session, board, operator_id, "wrap_up", now,
                     now + timedelta(seconds=wrap_up_seconds))


def stored_states(session: Session) -> list[OperatorState]:
    """Every active operator's state as the database last saw it (offline ones left out)."""
    rows = session.execute(
        select(Operator.id, Operator.state, Operator.state_since, Operator.state_until)
        .where(Operator.active.is_(True), Operator.state != "offline")
        .order_by(Operator.id)
    )
    states = []
    for operator_id, state, since, until in rows:
        if since is None:
            continue  # never set through this module: nothing trustworthy to restore
        if state == "wrap_up" and until is None:
            state = "available"
        states.append(OperatorState(operator_id, state, since, until))
    return states


def ensure_board(session: Session, board: OperatorBoard) -> bool:
    """Rebuild the board from the database when Redis came back empty; True if rebuilt."""
    if not board.is_empty():
        return False
    states = stored_states(session)
    if not states:
        return False
    board.rebuild(states)
    return True
