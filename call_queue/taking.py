"""What an operator does to the line from the console: change state, take next, take this one.

Going available IS taking the next party in the fair order (call_queue.line_services dispatches at
once). A supervisor may also take one chosen party out of order: the claim is the same
conditional update the dispatcher uses, so two supervisors can never take the same party.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from redis.exceptions import RedisError
from sqlalchemy.orm import Session

from call_queue import line, line_services, operator_states
from call_queue.dispatch import Assignment, ClaimSettled
from call_queue.operators import OperatorBoard, OperatorState
from madoguchi.events import notify_line_changed
from madoguchi.models import Call, CallbackRequest, utcnow
from madoguchi.redis_conn import get_redis
from madoguchi.telephony.base import TelephonyError

log = logging.getLogger(__name__)

OwnState = Literal["available", "away", "offline"]
OWN_STATES: tuple[str, ...] = ("available", "away", "offline")


class NotWaiting(LookupError):
    """The chosen party is no longer waiting (someone took it, or it left the line)."""


class StillOnCall(RuntimeError):
    """The operator is on a call: only going offline is possible until it ends."""


def announce_line_changed() -> None:
    """Wake the live views of the app's Redis (best effort: they also refresh on a timer)."""
    try:
        notify_line_changed(get_redis())
    except (RuntimeError, RedisError):
        log.warning("live views not notified; they refresh on their timer")


def set_own_state(session: Session, operator_id: int, state: str,
                  now: datetime | None = None) -> list[Assignment]:
    """The operator's own choice of state; going available takes the next party at once.

    Raises StillOnCall for available or away during a call (its end moves them to wrap-up).
    """
    if state not in OWN_STATES:
        raise ValueError(f"unknown state {state!r}; choose one of {', '.join(OWN_STATES)}")
    now = now or utcnow()
    current = line_services.board()
    operator_states.ensure_board(session, current)
    if state != "offline" and current.get(operator_id).state == "on_call":
        raise StillOnCall(f"operator {operator_id} is on a call")
    if state == "available":
        return line_services.operator_available(session, operator_id, now)
    operator_states.set_state(session, current, operator_id, state, now)
    return []


def _waiting_party(session: Session, kind: str, party_id: int) -> line.Party:
    if kind == "holding":
        call = session.get(Call, party_id)
        if call is None or call.queued_at is None:
            raise NotWaiting(f"call {party_id} is not in the line")
        return line.Party("holding", call.id, call.queued_at, call.language or "ja",
                          call.resident_id)
    if kind == "callback":
        request = session.get(CallbackRequest, party_id)
        if request is None:
            raise NotWaiting(f"callback request {party_id} does not exist")
        return line.Party("callback", request.id, request.arrival_at, request.language,
                          request.resident_id)
    raise ValueError(f"unknown party kind {kind!r}; expected holding or callback")


def take_this_one(session: Session, operator_id: int, kind: str, party_id: int,
                  now: datetime | None = None) -> Assignment:
    """Give one chosen waiting party to this operator, out of order.

    Raises NotWaiting when the party is gone, StillOnCall when the operator is on a call, and
    TelephonyError when the network did not put the holder through (they keep their place).
    """
    now = now or utcnow()
    party = _waiting_party(session, kind, party_id)
    board = line_services.board()
    operator_states.ensure_board(session, board)
    before = board.get(operator_id)
    if before.state == "on_call":
        raise StillOnCall(f"operator {operator_id} is on a call")
    # Off the available set before claiming, so the dispatcher cannot give them someone else too.
    board.set_state(operator_id, "on_call", now)
    if not line.claim(session, party, operator_id, now):
        _restore(session, board, before, now)
        raise NotWaiting(f"{kind} {party_id} is no longer waiting")
    operator_states.persist_state(session, operator_id, "on_call", now)
    try:
        assignment = line_services.dispatcher(session).hand_over(operator_id, party, now)
    except ClaimSettled:
        # They hung up meanwhile; that path already freed this operator.
        raise NotWaiting(f"{kind} {party_id} hung up before being put through") from None
    except TelephonyError:
        _restore(session, board, before, now)  # the party is back in the line at its place
        raise
    if assignment is None:
        _restore(session, board, before, now)
        raise NotWaiting(f"{kind} {party_id} hung up before being put through")
    notify_line_changed(board.redis)
    return assignment


def _restore(session: Session, board: OperatorBoard, before: OperatorState,
             taken_at: datetime) -> None:
    """The operator as they were before taking, unless their state moved on since the take
    (the party's hang-up freed them and the line gave them someone else)."""
    state = before.state if before.state in operator_states.STATES else "offline"
    if state == "wrap_up" and before.until is None:
        state = "available"
    taken = OperatorState(before.operator_id, "on_call", taken_at)
    operator_states.set_state_if_unchanged(session, board, taken, state, before.since,
                                           before.until)
