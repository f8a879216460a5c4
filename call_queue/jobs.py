"""RQ jobs of the line: one job per callback attempt, and the periodic sweep.

Jobs take ids only (never phone numbers). A callback attempt's job id is
`callback-{request_id}-{attempt_no}`, so enqueueing it twice makes one job; the attempt row in
the database makes sure that even a job that runs twice dials once. The sweep runs every
SWEEP_INTERVAL_SECONDS under the RQ scheduler: it rebuilds the operator board after a Redis
restart, dispatches parties whose time has come, and re-enqueues attempts whose job is missing
(written while Redis was down, or lost with it).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from redis import Redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

import prompts
from call_queue import callback_calls, reminders, service
from call_queue.pacing import OutboundPacer
from ivr.speech import Speaker
from madoguchi import jobs as madoguchi_jobs
from madoguchi.db import database, session_scope
from madoguchi.jobs import DEFAULT_QUEUE
from madoguchi.models import CallbackAttempt, CallbackRequest, utcnow
from madoguchi.redis_conn import get_redis
from madoguchi.telephony import get_telephony

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "madoguchi-line-sweep"
SWEEP_INTERVAL_SECONDS = 30
SWEEP_REPEATS = 7 * 24 * 120  # a week of half-minutes; a worker renews the chain after
REMINDERS_JOB_ID = "madoguchi-appointment-reminders"
REMINDERS_INTERVAL_SECONDS = 600
REMINDERS_REPEATS = 7 * 24 * 6
# An attempt committed this long ago but never dialled belongs to a worker that died.
STALE_ATTEMPT_MINUTES = 5
_LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}


def callback_job_id(request_id: int, attempt_no: int) -> str:
    """The RQ job id of one callback attempt."""
    return f"callback-{request_id}-{attempt_no}"


def _job_is_live(connection: Redis, job_id: str) -> bool:
    try:
        return Job.fetch(job_id, connection=connection).get_status() in _LIVE
    except NoSuchJobError:
        return False


def enqueue_callback_attempt(connection: Redis, request_id: int, attempt_no: int) -> bool:
    """Queue the job of one attempt unless it is already queued or running; True if queued."""
    job_id = callback_job_id(request_id, attempt_no)
    if _job_is_live(connection, job_id):
        return False
    Queue(DEFAULT_QUEUE, connection=connection).enqueue(
        place_callback, request_id, attempt_no, job_id=job_id,
        description=f"callback {request_id} attempt {attempt_no}",
        retry=Retry(max=2, interval=[5, 15]), job_timeout=120, result_ttl=3600,
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


def close_stale_attempts(session: Session, now: datetime) -> int:
    """Close attempts committed but never dialled (the worker died in between); returns how many."""
    settings = current_app.config["SETTINGS"]
    stale = session.scalars(
        select(CallbackAttempt.id).where(
            CallbackAttempt.status == "dialing", CallbackAttempt.call_sid.is_(None),
            CallbackAttempt.started_at < now - timedelta(minutes=STALE_ATTEMPT_MINUTES),
        )
    ).all()
    session.commit()
    closed = 0
    for attempt_id in stale:
        result = callback_calls.finish_attempt(session, attempt_id, "failed",
                                               queue=settings.queue, now=now)
        if result is not None:
            service.after_attempt(session, result, now)
            closed += 1
    return closed


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
    """RQ job: close dead attempts, re-enqueue missing ones, dispatch whoever is due."""
    now = utcnow()
    with session_scope(database()) as session:
        closed = close_stale_attempts(session, now)
        requeued = requeue_missing_attempts(session, get_redis())
        assigned = len(service.dispatch(session, now))
    return {"closed": closed, "requeued": requeued, "assigned": assigned}


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
