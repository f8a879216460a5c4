"""The sweep's safety net for operators on a call: ask the network whether the call still lasts.

Webhooks can be lost (the app restarting, a network fault); an operator whose bridged call the
phone network reports ended is freed the same way as when the call's own webhooks arrive.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from call_queue import line_services, operator_bridge, operator_states
from madoguchi import calls, phone
from madoguchi.models import Call, CallbackAttempt, CallbackRequest
from madoguchi.telephony.base import Telephony, TelephonyError

log = logging.getLogger(__name__)

# An operator just put through has webhooks on their way: the sweep leaves them alone this long.
GRACE_SECONDS = 60


def _holder_call(session: Session, operator_id: int) -> Call | None:
    """The latest holder's call given to the operator."""
    call = session.scalar(select(Call).where(
        Call.operator_id == operator_id, Call.queued_at.is_not(None))
        .order_by(Call.id.desc()).limit(1))
    session.commit()
    return call


def _callback_attempt(session: Session, operator_id: int) -> CallbackAttempt | None:
    """The dialled attempt of the callback the operator is making, if any."""
    attempt = session.scalar(
        select(CallbackAttempt)
        .join(CallbackRequest, CallbackRequest.id == CallbackAttempt.request_id)
        .where(CallbackRequest.operator_id == operator_id,
               CallbackRequest.status.in_(("dialing", "connected")),
               CallbackAttempt.call_sid.is_not(None))
        .order_by(CallbackAttempt.id.desc()).limit(1))
    session.commit()
    return attempt


def _ended_status(telephony: Telephony, call_sid: str) -> str | None:
    """The call's final status as the network reports it; None while it lasts or is unknown."""
    try:
        status = telephony.call_status(call_sid)
    except TelephonyError as exc:
        # The network's error may quote the caller's number: only its masked form is logged.
        error = str(exc)
        log.warning("cannot ask the phone network about call %s: %s", call_sid, phone.redact(error))
        return None
    return status if status in calls.FINAL_STATUSES else None


def _free(session: Session, telephony: Telephony, operator_id: int, now: datetime) -> bool:
    call = _holder_call(session, operator_id)
    if call is not None:
        if call.ended_at is None:
            status = _ended_status(telephony, call.call_sid)
            if status is None:
                return _free_from_callback(session, telephony, operator_id, now)
            calls.apply_status(session, call.call_sid, status=status, sequence=None,
                               from_raw=None, to_number=None, now=now)
        if operator_bridge.release_operator(session, call, now):
            log.info("operator %d freed: call %d had ended", operator_id, call.id)
            return True
    return _free_from_callback(session, telephony, operator_id, now)


def _free_from_callback(session: Session, telephony: Telephony, operator_id: int,
                        now: datetime) -> bool:
    attempt = _callback_attempt(session, operator_id)
    if attempt is None or attempt.call_sid is None:
        return False
    status = _ended_status(telephony, attempt.call_sid)
    if status is None:
        return False
    line_services.callback_call_ended(session, attempt.id, status, now)
    log.info("operator %d freed: callback attempt %d had ended", operator_id, attempt.id)
    return True


def free_operators_of_ended_calls(session: Session, telephony: Telephony,
                                  now: datetime) -> int:
    """Free every operator on a call the network reports ended; returns how many were freed."""
    board = line_services.board()
    operator_states.ensure_board(session, board)
    freed = 0
    for state in board.all(now):
        if state.state != "on_call" or (now - state.since).total_seconds() < GRACE_SECONDS:
            continue
        freed += _free(session, telephony, state.operator_id, now)
    return freed
