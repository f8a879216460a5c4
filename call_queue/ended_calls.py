"""The sweep's safety net for operators on a call: ask the network whether the call still lasts.

Webhooks can be lost (the app restarting, a network fault); an operator whose bridged call the
phone network reports ended is freed the same way as when the call's own webhooks arrive. An
operator the board still shows on a call with no party at all (a job or webhook died between
settling their party and freeing them) is freed too, once their state has stood unchanged long
enough that no hand-over can still be on its way.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from call_queue import line_services, operator_bridge, operator_states
from call_queue.operators import OperatorState
from madoguchi import calls, phone
from madoguchi.models import Call, CallbackAttempt, CallbackRequest
from madoguchi.telephony.base import Telephony, TelephonyError

log = logging.getLogger(__name__)

# An operator just put through has webhooks on their way: the sweep leaves them alone this long.
GRACE_SECONDS = 60
# On a call with no party for this long: whatever gave them one died before writing it down.
# A hand-over writes its party within moments of the claim; this is far beyond any of them.
LEFT_ON_A_CALL_SECONDS = 120
# A call is answered on a web host and an operator claimed on another (often the worker),
# each by its own clock: times compared across them are allowed this much apart.
CLOCKS_APART = timedelta(minutes=1)


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


def _has_a_party(session: Session, operator_id: int, since: datetime) -> bool:
    """True when a holder's call or a callback given to the operator may still be going on."""
    latest = _holder_call(session, operator_id)
    if latest is not None and latest.ended_at is None:
        return True  # the network, just asked, did not say it ended (it lasts, or is silent)
    # An older holder's call answered well before they went on this call was an earlier
    # party's, left without its end (a lost status callback): it does not keep them on it.
    holder = exists().where(Call.operator_id == operator_id, Call.queued_at.is_not(None),
                            Call.ended_at.is_(None),
                            Call.answered_at.is_(None)
                            | (Call.answered_at >= since - CLOCKS_APART))
    callback = exists().where(CallbackRequest.operator_id == operator_id,
                              CallbackRequest.status.in_(("dialing", "connected")))
    found = session.scalar(select(holder | callback))
    session.commit()
    return bool(found)


def _give_back_a_holder_never_put_through(session: Session, operator_id: int) -> None:
    """A holder claimed for the operator long ago whose bridge never came goes back in line.

    Whatever claimed them died before Twilio took them off hold (or Twilio never did): they
    still hear the hold music, out of the line's order, and nobody would ever take them.
    """
    latest = _holder_call(session, operator_id)
    if latest is None or latest.ended_at is not None or latest.answered_at is not None:
        return
    # Conditional, as the bridge's answer: a bridge arriving now wins or finds them waiting.
    if line_services.dispatcher(session).give_back(latest.id, operator_id):
        log.warning("holder call %d was claimed for operator %d but never put through: back "
                    "in line at their place", latest.id, operator_id)


def _talked_since(session: Session, operator_id: int, since: datetime) -> bool:
    """True when a party given to the operator since then was answered (wrap-up is due)."""
    holder = exists().where(Call.operator_id == operator_id, Call.queued_at.is_not(None),
                            Call.answered_at >= since - CLOCKS_APART)
    callback = exists().where(CallbackRequest.operator_id == operator_id,
                              CallbackRequest.status == "reached",
                              CallbackRequest.updated_at >= since - CLOCKS_APART)
    found = session.scalar(select(holder | callback))
    session.commit()
    return bool(found)


def _free_left_on_a_call(session: Session, state: OperatorState, now: datetime) -> bool:
    if (now - state.since).total_seconds() < LEFT_ON_A_CALL_SECONDS:
        return False
    _give_back_a_holder_never_put_through(session, state.operator_id)
    if _has_a_party(session, state.operator_id, state.since):
        return False
    talked = _talked_since(session, state.operator_id, state.since)
    if not line_services.free_left_on_a_call(session, state, talked, now):
        return False  # their state moved on meanwhile: they were not left
    log.warning("operator %d was left on a call with nobody since %s: now %s",
                state.operator_id, state.since.isoformat(timespec="seconds"),
                "in wrap-up" if talked else "available")
    return True


def free_operators_of_ended_calls(session: Session, telephony: Telephony,
                                  now: datetime) -> int:
    """Free every operator on a call the network reports ended, or on a call with nobody.

    Returns how many were freed.
    """
    board = line_services.board()
    operator_states.ensure_board(session, board)
    freed = 0
    for state in board.all(now):
        if state.state != "on_call" or (now - state.since).total_seconds() < GRACE_SECONDS:
            continue
        freed += (_free(session, telephony, state.operator_id, now)
                  or _free_left_on_a_call(session, state, now))
    return freed
