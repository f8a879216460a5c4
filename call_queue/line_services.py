"""The line's services bound to the running app: board, dispatcher, operator state changes.

Redis trouble never reaches a caller from here: dispatching is best effort (the periodic sweep
catches up) and "how many operators are on duty" answers 0 when Redis cannot be reached, which
sends the caller to the callback offer instead of a hang-up.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from redis.exceptions import RedisError
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

import prompts
from call_queue import callback_calls, holding, job_scheduling, operator_states
from call_queue.callback_calls import AttemptResult
from call_queue.dispatch import Assignment, Dispatcher, is_paused
from call_queue.operators import OperatorBoard, OperatorState
from madoguchi import calls
from madoguchi.models import Call, CallbackRequest, utcnow
from madoguchi.redis_conn import get_redis
from madoguchi.settings import Settings
from madoguchi.telephony import get_telephony

log = logging.getLogger(__name__)


def settings() -> Settings:
    """The app's settings."""
    return current_app.config["SETTINGS"]


def spoken_language(raw: str | None) -> str:
    """The given language when the line offers it, else the city's default."""
    languages = settings().languages
    return raw if raw in languages.offered else languages.default


def board() -> OperatorBoard:
    """The operator board on the app's Redis."""
    return OperatorBoard(get_redis())


def dispatcher(session: Session) -> Dispatcher:
    """A dispatcher on the app's database session, Redis, phone network and job queue."""
    redis = get_redis()
    return Dispatcher(
        session=session, board=OperatorBoard(redis), telephony=get_telephony(),
        public_base_url=settings().secrets.public_base_url,
        enqueue_attempt=lambda request_id, attempt_no: job_scheduling.enqueue_callback_attempt(
            redis, request_id, attempt_no),
    )


def dispatch(session: Session, now: datetime | None = None) -> list[Assignment]:
    """Give free operators their next parties now; [] when Redis is unreachable (logged)."""
    try:
        return dispatcher(session).run(now or utcnow())
    except RedisError:
        session.rollback()
        log.exception("dispatch skipped: Redis unreachable; the sweep will catch up")
        return []


def dispatch_paused() -> bool:
    """True while the line waits a few seconds after the phone network failed to put through."""
    try:
        return is_paused(get_redis())
    except RedisError:
        return False


def operators_on_duty(session: Session, now: datetime | None = None) -> int:
    """Operators taking calls (board rebuilt from the database if Redis came back empty)."""
    try:
        current = board()
        operator_states.ensure_board(session, current)
        return current.on_duty(now or utcnow())
    except RedisError:
        log.exception("operator board unreachable: treating the line as unstaffed")
        return 0


def standing_of(session: Session, call_sid: str,
                now: datetime | None = None) -> holding.Standing | None:
    """Where the holder on this call stands in the line; None when the call is not in it."""
    call = calls.find_call(session, call_sid)
    if call is None or call.queued_at is None:
        return None
    now = now or utcnow()
    return holding.standing(session, call, operators_on_duty(session, now), now)


def operator_available(session: Session, operator_id: int,
                       now: datetime | None = None) -> list[Assignment]:
    """An operator is free: save the state, then give them (or others) the next party."""
    now = now or utcnow()
    operator_states.ensure_board(session, board())
    operator_states.set_state(session, board(), operator_id, "available", now)
    return dispatch(session, now)


def operator_finished(session: Session, operator_id: int, now: datetime | None = None) -> None:
    """An operator's call ended: wrap-up for the configured time, then the next party at once."""
    now = now or utcnow()
    state = operator_states.start_wrap_up(session, board(), operator_id, now,
                                   settings().queue.wrap_up_seconds)
    if state.until is None:
        dispatch(session, now)  # no wrap-up configured: free right away
        return
    _schedule_wrap_up_end(operator_id, state.since, state.until)


def _schedule_wrap_up_end(operator_id: int, since: datetime, until: datetime) -> None:
    try:
        job_scheduling.schedule_wrap_up_end(get_redis(), operator_id, since, until)
    except RedisError:
        log.exception("wrap-up end of operator %d not scheduled; the sweep will catch up",
                      operator_id)


def free_left_on_a_call(session: Session, left: OperatorState, talked: bool,
                        now: datetime | None = None) -> bool:
    """Free an operator the board shows on a call with nobody, if still so; True if freed.

    Wrap-up when they had talked to their last party, else available and the next party at
    once. Nothing changes when their state moved on since `left` was read.
    """
    now = now or utcnow()
    wrap_up_seconds = settings().queue.wrap_up_seconds if talked else 0
    if wrap_up_seconds > 0:
        until = now + timedelta(seconds=wrap_up_seconds)
        if not operator_states.set_state_if_unchanged(session, board(), left, "wrap_up", now,
                                                      until):
            return False
        _schedule_wrap_up_end(left.operator_id, now, until)
        return True
    if not operator_states.set_state_if_unchanged(session, board(), left, "available", now):
        return False
    dispatch(session, now)
    return True


def as_utc(moment: datetime) -> datetime:
    """A moment with its zone: SQLite gives back UTC times without one."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def has_another_party(session: Session, operator_id: int, *, call_id: int | None = None,
                      request_id: int | None = None) -> bool:
    """True when the operator has a party other than this holder's call or callback request:
    a holder's call not ended, or a callback being dialled or connected."""
    holder = session.scalar(select(exists().where(
        Call.operator_id == operator_id, Call.id != call_id, Call.queued_at.is_not(None),
        Call.ended_at.is_(None))))
    callback = session.scalar(select(exists().where(
        CallbackRequest.operator_id == operator_id, CallbackRequest.id != request_id,
        CallbackRequest.status.in_(("dialing", "connected")))))
    session.commit()  # end the read: SQLite holds its lock until then
    return bool(holder or callback)


def still_on_call(session: Session, operator_id: int, request_id: int) -> bool:
    """True while the operator reserved for this callback request is still on it: one who
    logged off (or was disabled) during it is not put back on duty when it ends, nor one
    given another party since (logged off, back, and given the next caller)."""
    operator_states.ensure_board(session, board())
    if board().get(operator_id).state != "on_call":
        return False
    return not has_another_party(session, operator_id, request_id=request_id)


def after_attempt(session: Session, result: AttemptResult, now: datetime | None = None) -> None:
    """Free the reserved operator and report a callback that could not be reached."""
    now = now or utcnow()
    if result.operator_id is not None and still_on_call(session, result.operator_id,
                                                        result.request_id):
        if result.outcome == "reached":
            operator_finished(session, result.operator_id, now)
        else:
            operator_available(session, result.operator_id, now)
    if result.outcome == "unreached":
        report_unreached(session, result.request_id, now)
    elif result.outcome == "retry":
        _schedule_retry(session, result)


def callback_call_ended(session: Session, attempt_id: int, call_status: str,
                        now: datetime | None = None, call_sid: str | None = None) -> None:
    """A callback call's final status closes its attempt (once): operator freed, retry or report.

    Statuses that are not final (ringing, in-progress) change nothing.
    """
    if call_status not in calls.FINAL_STATUSES:
        return
    now = now or utcnow()
    result = callback_calls.finish_attempt(session, attempt_id, call_status,
                                           queue=settings().queue, now=now, call_sid=call_sid)
    if result is not None:
        after_attempt(session, result, now)


def _schedule_retry(session: Session, result: AttemptResult) -> None:
    """Have the worker dispatch again the moment the retry pause ends."""
    request = session.get(CallbackRequest, result.request_id)
    if request is None or request.next_attempt_at is None:
        return
    try:
        job_scheduling.schedule_callback_due(get_redis(), request.id, result.attempt_no,
                                   request.next_attempt_at)
    except RedisError:
        log.exception("retry of callback %d not scheduled; the sweep will catch up", request.id)


def report_unreached(session: Session, request_id: int, now: datetime) -> int:
    """SMS to a mobile and a follow-up case for a callback given up on; returns the case id."""
    request = session.get(CallbackRequest, request_id)
    assert request is not None
    catalog = prompts.catalog(request.language)
    city = settings().city
    name = city.name if request.language == "ja" else city.name_en
    # "We called but could not reach you" only when their phone did ring (or was busy): not
    # for a window that passed before any dial, nor for dials the network refused.
    reached = callback_calls.line_was_reached(session, request_id)
    return callback_calls.report_unreached(
        session, request_id, send_sms=get_telephony().send_sms, line_reached=reached,
        sms_text=catalog.text(
            "callback_sms_unreached" if reached else "callback_sms_not_returned", city=name),
        subject=catalog.text("callback_unreached_subject"),
        due_hours=settings().inquiries.callback_due_hours, now=now,
    )


def give_up_missed_windows(session: Session, now: datetime | None = None) -> list[int]:
    """Report callbacks whose chosen window passed before they were reached; their ids."""
    now = now or utcnow()
    missed = callback_calls.close_missed_windows(session, now)
    for request_id in missed:
        report_unreached(session, request_id, now)
    return missed
