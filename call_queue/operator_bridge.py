"""Parties put through to the operator who took them, and what follows the operator's dial.

A holder taken off hold and a resident who answered our callback meet their operator the same
way. Twilio may repeat a redirect or a Dial action: a holder's answer time is recorded once, and
what follows one dial (done, or back in line at the same place) is decided once per DialCallSid.

The end of a holder's call reaches us several ways (the Dial action, the call's final status,
the operator leg's status, the sweep asking the network); whichever comes first frees the
operator, once per call and operator, and only while the operator is still on that call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from call_queue import callback_calls, holding, line_services, operator_states
from madoguchi import calls
from madoguchi.models import Call, CallbackAttempt, CallbackRequest, Operator, utcnow

# What followed the operator's dial.
DONE = "done"
MISSED = "missed"
GONE = "gone"  # no such call, or its operator was released meanwhile


@dataclass(frozen=True)
class AfterDial:
    """What followed the operator's dial, and the language to say it in."""

    language: str
    result: str


@dataclass(frozen=True)
class CallbackPickUp:
    """Our callback was answered: by a machine or a person, and the operator waiting for them.

    `attempt_id` is None when the attempt is unknown or no longer open (a repeated webhook).
    """

    language: str
    attempt_id: int | None
    machine: bool = False
    last_attempt: bool = False
    operator: Operator | None = None


def put_holder_through(session: Session, call_id: int,
                       now: datetime | None = None) -> tuple[Call | None, Operator | None]:
    """The holder's call and its operator; the first time both are there, the call is answered."""
    call = session.get(Call, call_id)
    if call is None or call.operator_id is None:
        return call, None
    if call.answered_at is None:
        # Conditional, like a dispatcher giving the holder back to the line when the network's
        # answer to its redirect never came: one of the two wins. A retried redirect is
        # answered the same; the answer time is recorded once.
        answered = session.execute(
            update(Call).where(Call.id == call.id, Call.operator_id == call.operator_id,
                               Call.answered_at.is_(None))
            .values(answered_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        session.commit()
        session.refresh(call)
        if answered.rowcount != 1 and call.answered_at is None:
            # Given back to the line meanwhile (perhaps taken by another operator since, whose
            # own redirect brings the caller here again): they wait on hold at their place.
            return call, None
        if answered.rowcount == 1:
            calls.add_path(session, call, "operator_bridge")
    operator = session.get(Operator, call.operator_id) if call.operator_id else None
    return call, operator


def _serving(session: Session, operator_id: int, call: Call) -> bool:
    """True while the operator is on a call and it is this one (no later party was given them)."""
    board = line_services.board()
    operator_states.ensure_board(session, board)
    state = board.get(operator_id)
    if state.state != "on_call":
        return False
    if call.answered_at is not None:
        # On a later party the operator's on-call time began after this call was answered.
        return line_services.as_utc(state.since) <= line_services.as_utc(call.answered_at)
    return not line_services.has_another_party(session, operator_id, call_id=call.id)


def free_if_still_theirs(session: Session, operator_id: int, call: Call,
                         now: datetime | None = None) -> bool:
    """Free an operator claimed for this holder, who hung up before being put through; True if
    freed. Not one already freed and given someone else (the call's status may have come
    first), nor one who logged off meanwhile."""
    if not _serving(session, operator_id, call):
        return False
    line_services.operator_available(session, operator_id, now)
    return True


def release_operator(session: Session, call: Call, now: datetime | None = None) -> bool:
    """The holder's call with its operator is over: free the operator once; True if freed now.

    An answered call leaves the operator in wrap-up; one that ended before it was put through
    makes them available at once. Repeats, and ends arriving after the operator moved on to
    someone else, change nothing.
    """
    operator_id = call.operator_id
    if operator_id is None:
        return False
    now = now or utcnow()
    if not _serving(session, operator_id, call):
        # Nothing is recorded: an operator already moved on is left alone by every later end.
        return False
    freed: list[bool] = []  # set only by the run that frees, never by a repeat

    def free() -> dict:
        if call.answered_at is not None:
            line_services.operator_finished(session, operator_id, now)
            calls.add_path(session, call, "operator_done")
        else:
            line_services.operator_available(session, operator_id, now)
        freed.append(True)
        return {"freed": True}

    calls.once(session, call, f"released:{operator_id}", free)
    return bool(freed)


def holder_call_ended(session: Session, call_sid: str, now: datetime | None = None) -> bool:
    """A call's final status (or the network's word that it ended): free its operator once."""
    call = calls.find_call(session, call_sid)
    if call is None or call.operator_id is None or call.queued_at is None:
        return False
    return release_operator(session, call, now)


def operator_leg_ended(session: Session, call_id: int, leg_status: str,
                       now: datetime | None = None) -> bool:
    """The operator's leg of a holder's call ended; a completed leg frees the operator once.

    A leg that never connected (no-answer, busy) is left to the Dial action, which puts the
    holder back in line.
    """
    call = session.get(Call, call_id)
    if call is None or leg_status != "completed":
        return False
    return release_operator(session, call, now)


def after_holder_dial(session: Session, call_id: int, *, completed: bool, dial_sid: str,
                      caller_gone: bool = False, now: datetime | None = None) -> AfterDial:
    """Done, or (the operator did not pick up) marked away and the holder back at their place.

    When the caller hung up during the dial (Twilio still asks the action), the operator is
    freed and nobody goes back in line.
    """
    call = session.get(Call, call_id)
    language = line_services.spoken_language(call.language if call else None)
    if call is None:
        return AfterDial(language, GONE)
    now = now or utcnow()

    def follow_up() -> dict:
        if call.operator_id is None:
            return {"result": GONE}
        operator_id = call.operator_id
        if completed or caller_gone:
            release_operator(session, call, now)
            return {"result": DONE}
        operator_states.set_state(session, line_services.board(), operator_id, "away", now)
        holding.join(session, call, now, line_services.settings().queue.return_window_minutes)
        calls.add_path(session, call, "operator_missed")
        line_services.dispatch(session, now)
        return {"result": MISSED}

    # A retried Dial action (same DialCallSid) gets the first answer and changes nothing.
    done = calls.once(session, call, f"bridged:{dial_sid}", follow_up) if dial_sid \
        else follow_up()
    return AfterDial(language, done["result"])


def callback_answered(session: Session, attempt_id: int, answered_by: str,
                      now: datetime | None = None, call_sid: str | None = None) -> CallbackPickUp:
    """Note who answered our callback; a person gets a call record with the waiting operator."""
    now = now or utcnow()
    attempt = callback_calls.mark_answered(session, attempt_id, answered_by, now, call_sid)
    request = session.get(CallbackRequest, attempt.request_id) if attempt else None
    language = line_services.spoken_language(request.language if request else None)
    if attempt is None or request is None:
        return CallbackPickUp(language, None)
    last = callback_calls.is_last_try(session, attempt, line_services.settings().queue)
    if attempt.status == "machine":
        return CallbackPickUp(language, attempt.id, machine=True, last_attempt=last)
    operator = session.get(Operator, request.operator_id) if request.operator_id else None
    if operator is not None and attempt.call_sid:
        calls.start_callback_call(session, attempt.call_sid, to_e164=request.phone_e164,
                                  operator_id=operator.id, language=language,
                                  resident_id=request.resident_id, now=now)
    return CallbackPickUp(language, attempt.id, last_attempt=last, operator=operator)


def after_callback_dial(session: Session, attempt_id: int, *, completed: bool,
                        caller_gone: bool = False, now: datetime | None = None) -> AfterDial:
    """The call ends when done; if the operator missed it, they are away and it is tried again.

    When the resident hung up while the operator's phone rang (Twilio still asks the action),
    the operator missed nothing: the attempt is the resident's try, not reached, and the
    operator is freed.
    """
    now = now or utcnow()
    attempt = session.get(CallbackAttempt, attempt_id)
    request = session.get(CallbackRequest, attempt.request_id) if attempt else None
    language = line_services.spoken_language(request.language if request else None)
    record = calls.find_call(session, attempt.call_sid) if attempt and attempt.call_sid \
        else None
    if record is not None:
        # The operator's part is over whichever way: the call they were given has ended (or
        # is ending with an apology) and must not look like their current call.
        calls.end_call(session, record, now)
    if attempt is None or completed:
        return AfterDial(language, DONE)
    queue = line_services.settings().queue
    if caller_gone:
        # Nobody spoke: the resident's try, not reached; the operator is freed by it.
        result = callback_calls.finish_attempt(session, attempt.id, callback_calls.HUNG_UP,
                                               queue=queue, now=now)
        if result is not None:
            line_services.after_attempt(session, result, now)
        return AfterDial(language, DONE)
    operator_id = request.operator_id if request else None
    result = callback_calls.finish_attempt(session, attempt.id, callback_calls.OPERATOR_MISSED,
                                           queue=queue, now=now)
    if result is None:
        return AfterDial(language, MISSED)  # a retried action: the first one marked them away
    if operator_id is not None and line_services.still_on_call(session, operator_id,
                                                               attempt.request_id):
        operator_states.set_state(session, line_services.board(), operator_id, "away", now)
    # The operator is already marked away: after_attempt must not free them again.
    line_services.after_attempt(session, callback_calls.AttemptResult(
        result.request_id, result.attempt_no, result.outcome, None), now)
    return AfterDial(language, MISSED)
