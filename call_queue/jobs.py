"""RQ jobs of the line: one job per callback attempt, the end of a wrap-up, the periodic sweep.

Jobs take ids only (never phone numbers). A callback attempt's job id is
`callback-{request_id}-{attempt_no}`, so enqueueing it twice makes one job; the attempt row in
the database makes sure that even a job that runs twice dials once. The sweep runs every
SWEEP_INTERVAL_SECONDS under the RQ scheduler: it rebuilds the operator board after a Redis
restart, dispatches parties whose time has come, and re-enqueues attempts whose job is missing
(written while Redis was down, or lost with it). When an operator's wrap-up ends, a one-off job
scheduled for that moment (`wrap-up-end-{operator_id}-{start}`) dispatches at once, and so does
one when a callback's retry pause ends (`callback-due-{request_id}-{attempt_no}`); the sweep
stays the safety net.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime, timedelta

from flask import current_app
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import prompts
from call_queue import callback_calls, reminders, service
from call_queue.pacing import OutboundPacer
from madoguchi import jobs as madoguchi_jobs
from madoguchi.db import database, session_scope
from madoguchi.jobs import DEFAULT_QUEUE
from madoguchi.models import CallbackAttempt, CallbackRequest, utcnow
from madoguchi.redis_conn import get_redis
from madoguchi.telephony import TelephonyError, get_telephony
from madoguchi.voice.speech import Speaker

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "madoguchi-line-sweep"
SWEEP_INTERVAL_SECONDS = 30
SWEEP_REPEATS = 7 * 24 * 120  # a week of half-minutes; a worker renews the chain after
REMINDERS_JOB_ID = "madoguchi-appointment-reminders"
REMINDERS_INTERVAL_SECONDS = 600
REMINDERS_REPEATS = 7 * 24 * 6
# A callback job is stopped by RQ after this long (a dial is one API request; the pacer's wait
# is seconds), so an attempt committed longer ago than STALE_ATTEMPT_SECONDS and never dialled
# belongs to a worker that died: the sweep puts it back in line at once.
CALLBACK_JOB_TIMEOUT_SECONDS = 45
STALE_ATTEMPT_SECONDS = 60


def callback_job_id(request_id: int, attempt_no: int) -> str:
    """The RQ job id of one callback attempt."""
    return f"callback-{request_id}-{attempt_no}"


def enqueue_callback_attempt(connection: Redis, request_id: int, attempt_no: int) -> bool:
    """Queue the job of one attempt unless it is already queued or running; True if queued.

    A job left "started" by a worker that was killed is replaced: its attempt row, if it got
    that far, keeps the new job from dialling a second time.
    """
    job_id = callback_job_id(request_id, attempt_no)
    try:
        existing = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        existing = None
    if existing is not None:
        if madoguchi_jobs.is_live(existing):
            return False
        existing.delete()
    Queue(DEFAULT_QUEUE, connection=connection).enqueue(
        place_callback, request_id, attempt_no, job_id=job_id,
        description=f"callback {request_id} attempt {attempt_no}",
        retry=Retry(max=2, interval=[5, 15]), job_timeout=CALLBACK_JOB_TIMEOUT_SECONDS,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
    return True


def place_callback(request_id: int, attempt_no: int) -> str | None:
    """RQ job: dial one callback attempt (at most once); returns the CallSid or None."""
    settings = current_app.config["SETTINGS"]
    pacer = OutboundPacer(get_redis(), settings.queue.outbound_calls_per_second)
    with session_scope(database()) as session:
        return callback_calls.place_attempt(
            session, request_id=request_id, attempt_no=attempt_no, telephony=get_telephony(),
            pacer=pacer, queue=settings.queue, public_base_url=settings.secrets.public_base_url,
            now=utcnow(),
        )


def wrap_up_job_id(operator_id: int, started_at: datetime) -> str:
    """The RQ job id that ends one wrap-up of one operator."""
    return f"wrap-up-end-{operator_id}-{int(started_at.timestamp() * 1000)}"


def _schedule_once(connection: Redis, at: datetime, func, arg: int, *, job_id: str,
                   description: str) -> bool:
    """Have the worker's scheduler run func(arg) at a moment, once per job id; True if new."""
    # RQ keeps scheduled times in whole seconds, rounded down: round up so the job never runs
    # before its moment (a wrap-up's end would find the operator still busy).
    due = datetime.fromtimestamp(math.ceil(at.timestamp()), UTC)
    try:
        Queue(DEFAULT_QUEUE, connection=connection).enqueue_at(
            due, func, arg, job_id=job_id, unique=True, description=description,
            job_timeout=60, result_ttl=600, failure_ttl=24 * 3600,
        )
    except DuplicateJobError:
        return False
    return True


def schedule_wrap_up_end(connection: Redis, operator_id: int, started_at: datetime,
                         ends_at: datetime) -> bool:
    """Have the worker's scheduler dispatch the moment a wrap-up ends; True if newly scheduled."""
    return _schedule_once(connection, ends_at, end_wrap_up, operator_id,
                          job_id=wrap_up_job_id(operator_id, started_at),
                          description=f"end wrap-up of operator {operator_id}")


def callback_due_job_id(request_id: int, attempt_no: int) -> str:
    """The RQ job id that brings a callback back to the line once its retry pause is over."""
    return f"callback-due-{request_id}-{attempt_no}"


def schedule_callback_due(connection: Redis, request_id: int, attempt_no: int,
                          due_at: datetime) -> bool:
    """Dispatch again when a callback's retry pause ends; True if newly scheduled."""
    return _schedule_once(connection, due_at, callback_due, request_id,
                          job_id=callback_due_job_id(request_id, attempt_no),
                          description=f"callback {request_id} due again")


def callback_due(request_id: int) -> int:
    """RQ job: a callback is due again; give the free operators their next parties. A count."""
    with session_scope(database()) as session:
        assigned = service.dispatch(session, utcnow())
    log.info("callback %d due again: %d dispatched", request_id, len(assigned))
    return len(assigned)


def end_wrap_up(operator_id: int) -> int:
    """RQ job: a wrap-up is over; give the free operators their next parties. A count."""
    with session_scope(database()) as session:
        assigned = service.dispatch(session, utcnow())
    log.info("wrap-up of operator %d over: %d dispatched", operator_id, len(assigned))
    return len(assigned)


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
        service.after_attempt(session, result, now)
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
        log.warning("callback attempt %d: cannot ask the phone network (%s)", attempt_id, exc)
        return True
    if not placed:
        return False
    session.execute(update(CallbackAttempt)
                    .where(CallbackAttempt.id == attempt_id, CallbackAttempt.call_sid.is_(None))
                    .values(call_sid=placed[-1]))
    session.commit()
    log.info("callback attempt %d had been dialled as %s", attempt_id, placed[-1])
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
        missed = len(service.give_up_missed_windows(session, now))
        assigned = len(service.dispatch(session, now))
    return {"closed": closed, "requeued": requeued, "missed": missed, "assigned": assigned}


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
            entry = reminders.send_reminder(
                session, booking_id, settings=settings, telephony=get_telephony(),
                pacer=pacer, sms_text=lambda booking: reminder_text(settings, booking, "sms"),
                now=now)
            sent += entry is not None
    return sent


def reminder_text(settings, booking, kind: str) -> str:
    """The reminder sentence for a booking in the resident's language (sms or call)."""
    lang = booking.resident.language if booking.resident.language in (
        settings.languages.offered) else settings.languages.default
    speaker = Speaker(prompts.catalog(lang), settings.tz, settings.menu.pause_ms)
    city = settings.city.name if lang == "ja" else settings.city.name_en
    place = booking.slot.site.name if lang == "ja" else booking.slot.site.name_en
    when = speaker.when(booking.slot.starts_at)
    if kind == "sms":
        return speaker.catalog.text("reminder_sms", city=city, when=when, place=place,
                                    code=booking.reference)
    return speaker.catalog.text("reminder_call", city=city, when=when, place=place)


def ensure_sweep_scheduled(connection: Redis) -> bool:
    """Put the line's repeating jobs (sweep, reminders) in place; True if any was (re)created."""
    lock = madoguchi_jobs.scheduling_lock(connection)
    if not lock.acquire(blocking=False):
        return False
    try:
        sweep = madoguchi_jobs.ensure_repeating(
            connection, SWEEP_JOB_ID, sweep_line, interval=SWEEP_INTERVAL_SECONDS,
            repeats=SWEEP_REPEATS, description="sweep the line",
        )
        reminding = madoguchi_jobs.ensure_repeating(
            connection, REMINDERS_JOB_ID, send_reminders, interval=REMINDERS_INTERVAL_SECONDS,
            repeats=REMINDERS_REPEATS, description="send appointment reminders",
        )
        return sweep or reminding
    finally:
        lock.release()
