"""RQ jobs of the line: one callback attempt, the end of a wrap-up, a retry due, the sweep.

Jobs take ids only (never phone numbers); they are put on the queue by
`call_queue.job_scheduling`. The sweep runs every 30 seconds under the RQ scheduler: it rebuilds
the operator board after a Redis restart, dispatches parties whose time has come, and re-enqueues
attempts whose job is missing (written while Redis was down, or lost with it); the one-off jobs
dispatch at the exact moment, the sweep stays the safety net.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from redis import Redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from call_queue import (
    callback_calls,
    ended_calls,
    job_scheduling,
    line_services,
    reminder_texts,
    reminders,
)
from call_queue import dispatch as dispatching
from call_queue.job_scheduling import enqueue_callback_attempt
from call_queue.pacing import OutboundPacer
from madoguchi import phone
from madoguchi.db import database, session_scope
from madoguchi.models import CallbackAttempt, CallbackRequest, utcnow
from madoguchi.periodic import PeriodicJob
from madoguchi.redis_conn import get_redis
from madoguchi.settings import QueueSettings
from madoguchi.telephony import TelephonyError, get_telephony
from madoguchi.telephony.base import NetworkBusy

log = logging.getLogger(__name__)

# A callback job is stopped by RQ after 45 s (job_scheduling.CALLBACK_JOB_TIMEOUT_SECONDS), so
# an attempt committed longer ago than this and never dialled belongs to a worker that died: the
# sweep puts it back in line at once.
STALE_ATTEMPT_SECONDS = 60


def place_callback(request_id: int, attempt_no: int) -> str | None:
    """RQ job: dial one callback attempt (at most once); returns the CallSid or None.

    A dial the network refused is a failed attempt: the operator reserved for it is freed and
    the request waits its retry pause at its place (or is reported unreached after the last).
    One the network was too busy for does not count: the request is due again at its place
    once the line's dispatch pause is over.
    """
    settings = current_app.config["SETTINGS"]
    pacer = OutboundPacer(get_redis(), settings.queue.outbound_calls_per_second)
    with session_scope(database()) as session:
        try:
            return callback_calls.place_attempt(
                session, request_id=request_id, attempt_no=attempt_no,
                telephony=get_telephony(), pacer=pacer, queue=settings.queue,
                public_base_url=settings.secrets.public_base_url, now=utcnow(),
            )
        except callback_calls.DialRefused as refused:
            _after_refusal(session, refused, settings.queue)
            return None


def _after_refusal(session: Session, refused: callback_calls.DialRefused,
                   queue: QueueSettings) -> None:
    """A dial the network refused: busy, it is given back and the line waits; else it failed."""
    now = utcnow()
    if refused.busy:
        # Paused first: no other process's dispatch takes the request back meanwhile.
        dispatching.pause(get_redis(), str(refused))
        request_id = session.scalar(select(CallbackAttempt.request_id).where(
            CallbackAttempt.id == refused.attempt_id))
        operator_id = callback_calls.give_back_attempt(session, refused.attempt_id, now)
        if operator_id is not None and line_services.still_on_call(session, operator_id,
                                                                   request_id):
            line_services.operator_available(session, operator_id, now)
        return
    result = callback_calls.finish_attempt(session, refused.attempt_id, "failed",
                                           queue=queue, now=now)
    if result is not None:
        line_services.after_attempt(session, result, now)


def _dispatch_now(occasion: str) -> int:
    """Give the free operators their next parties; how many were given one."""
    with session_scope(database()) as session:
        assigned = line_services.dispatch(session, utcnow())
    log.info("%s: %d dispatched", occasion, len(assigned))
    return len(assigned)


def callback_due(request_id: int) -> int:
    """RQ job: a callback is due again; give the free operators their next parties. A count."""
    return _dispatch_now(f"callback {request_id} due again")


def end_wrap_up(operator_id: int) -> int:
    """RQ job: a wrap-up is over; give the free operators their next parties. A count."""
    return _dispatch_now(f"wrap-up of operator {operator_id} over")


def after_pause(ended_at: int) -> int:
    """RQ job: the line's pause after a network failure is over; dispatch again. A count."""
    redis = get_redis()
    left_ms = redis.pttl(dispatching.PAUSED_KEY)
    if left_ms > 0:
        # This worker's clock runs ahead of the one that paused (or the pause was extended
        # and has its own job): come back when it is over, a second later at least.
        ends = max(utcnow() + timedelta(milliseconds=left_ms),
                   datetime.fromtimestamp(ended_at + 1, UTC))
        job_scheduling.schedule_dispatch_after_pause(redis, ends)
        return 0
    return _dispatch_now(f"line's pause over at {ended_at}")


def close_stale_attempts(session: Session, now: datetime) -> int:
    """Close attempts committed but never dialled (the worker died in between); returns how many.

    The resident's phone never rang, so the request goes back to its place in the line due now,
    not after the retry pause of an unanswered call.
    """
    settings = current_app.config["SETTINGS"]
    stale = session.execute(
        select(CallbackAttempt.id, CallbackAttempt.started_at, CallbackRequest.phone_e164)
        .join(CallbackRequest, CallbackRequest.id == CallbackAttempt.request_id)
        .where(
            CallbackAttempt.status == "dialing", CallbackAttempt.call_sid.is_(None),
            CallbackAttempt.started_at < now - timedelta(seconds=STALE_ATTEMPT_SECONDS),
        )
        # Oldest first: an older attempt is matched to its call before a later one could be.
        .order_by(CallbackAttempt.started_at, CallbackAttempt.id)
    ).all()
    session.commit()
    closed = 0
    for attempt_id, started_at, number in stale:
        if _found_its_call(session, attempt_id, number, started_at):
            continue
        result = callback_calls.finish_attempt(session, attempt_id, "failed",
                                               queue=settings.queue, now=now)
        if result is None:
            continue
        if result.outcome == "retry":
            session.execute(update(CallbackRequest)
                            .where(CallbackRequest.id == result.request_id,
                                   CallbackRequest.status == "waiting")
                            .values(next_attempt_at=now))
            session.commit()
        line_services.after_attempt(session, result, now)
        closed += 1
    return closed


def _found_its_call(session: Session, attempt_id: int, number: str,
                    started_at: datetime) -> bool:
    """True when the phone network did place the attempt's call (the worker died before saving
    its CallSid): the CallSid is saved now and its status callback closes the attempt. True as
    well when the network cannot be asked, so that the next sweep asks again, not dials again.
    """
    if started_at.tzinfo is None:
        started_at = started_at.replace(tzinfo=UTC)
    try:
        placed = get_telephony().calls_placed_to(number, started_at)
    except TelephonyError as exc:
        # The number, and the error that may quote it again, reach the log masked.
        trouble = f"cannot ask the phone network about {number} ({exc})"
        log.warning("callback attempt %d: %s", attempt_id, phone.redact(trouble))
        return True
    # A call another attempt to the same number already holds is not this one's.
    held = set(session.scalars(select(CallbackAttempt.call_sid).where(
        CallbackAttempt.call_sid.in_(placed))))
    unheld = [call_sid for call_sid in placed if call_sid not in held]
    if not unheld:
        session.commit()
        return False
    session.execute(update(CallbackAttempt)
                    .where(CallbackAttempt.id == attempt_id, CallbackAttempt.call_sid.is_(None))
                    .values(call_sid=unheld[-1]))
    session.commit()
    log.info("callback attempt %d had been dialled as %s", attempt_id, unheld[-1])
    return True


def requeue_missing_attempts(session: Session, connection: Redis) -> int:
    """Enqueue the current attempt of callbacks in dialling whose job is gone; returns a count."""
    dialling = session.execute(
        select(CallbackRequest.id, CallbackRequest.attempts).where(
            CallbackRequest.status == "dialing", CallbackRequest.attempts > 0)
    ).all()
    session.commit()
    queued = 0
    for request_id, attempt_no in dialling:
        dialled = session.scalar(select(CallbackAttempt.id).where(
            CallbackAttempt.request_id == request_id, CallbackAttempt.attempt_no == attempt_no))
        session.commit()
        if dialled is None and enqueue_callback_attempt(connection, request_id, attempt_no):
            log.info("re-enqueued callback %d attempt %d", request_id, attempt_no)
            queued += 1
    return queued


def sweep_line() -> dict[str, int]:
    """RQ job: close dead attempts, re-enqueue missing ones, report missed windows, dispatch."""
    now = utcnow()
    with session_scope(database()) as session:
        closed = close_stale_attempts(session, now)
        requeued = requeue_missing_attempts(session, get_redis())
        missed = len(line_services.give_up_missed_windows(session, now))
        assigned = len(line_services.dispatch(session, now))
    return {"closed": closed, "requeued": requeued, "missed": missed, "assigned": assigned}


def free_stuck_operators() -> int:
    """RQ job: free operators whose bridged call the phone network reports ended; a count."""
    with session_scope(database()) as session:
        freed = ended_calls.free_operators_of_ended_calls(session, get_telephony(), utcnow())
    if freed:
        log.warning("%d operator(s) freed whose call had ended without its webhooks", freed)
    return freed


def send_reminders() -> int:
    """RQ job: send tomorrow's appointment reminders not yet sent (daytime only); a count."""
    settings = current_app.config["SETTINGS"]
    now = utcnow()
    if not reminders.in_sending_hours(settings, now):
        return 0
    pacer = OutboundPacer(get_redis(), settings.queue.outbound_calls_per_second)
    sent = 0
    with session_scope(database()) as session:
        for booking_id in reminders.due_booking_ids(session, settings, now):
            try:
                entry = reminders.send_reminder(
                    session, booking_id, settings=settings, telephony=get_telephony(),
                    pacer=pacer,
                    sms_text=lambda booking: reminder_texts.sms_text(settings, booking), now=now)
            except NetworkBusy as exc:
                # The rest would meet the same answer; the next run, ten minutes on, sends them.
                log.warning("reminders wait for the next run, the phone network is busy: %s",
                            phone.redact(str(exc)))
                break
            sent += entry is not None
    return sent


SWEEP = PeriodicJob(
    job_id="madoguchi-line-sweep", func=sweep_line, interval_seconds=30,
    repeats=7 * 24 * 120,  # a week of half-minutes; a worker renews the chain after
    description="sweep the line")
REMINDERS = PeriodicJob(
    job_id="madoguchi-appointment-reminders", func=send_reminders, interval_seconds=600,
    repeats=7 * 24 * 6, description="send appointment reminders")

STUCK_OPERATORS = PeriodicJob(
    job_id="madoguchi-stuck-operators", func=free_stuck_operators, interval_seconds=60,
    repeats=7 * 24 * 60, description="free operators whose call ended")

PERIODIC_JOBS = (SWEEP, REMINDERS, STUCK_OPERATORS)
