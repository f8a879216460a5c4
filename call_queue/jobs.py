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
from rq import Queue, Repeat, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import select
from sqlalchemy.orm import Session

from call_queue import callback_calls, service
from call_queue.pacing import OutboundPacer
from madoguchi.db import database, session_scope
from madoguchi.jobs import DEFAULT_QUEUE, MAINTENANCE_QUEUE
from madoguchi.models import CallbackAttempt, CallbackRequest, utcnow
from madoguchi.redis_conn import get_redis
from madoguchi.telephony import get_telephony

log = logging.getLogger(__name__)

SWEEP_JOB_ID = "madoguchi-line-sweep"
SWEEP_INTERVAL_SECONDS = 30
SWEEP_REPEATS = 7 * 24 * 120  # a week of half-minutes; a worker renews the chain after
# An attempt committed this long ago but never dialled belongs to a worker that died.
STALE_ATTEMPT_MINUTES = 5
_SCHEDULING_LOCK = "madoguchi:lock:line-sweep-scheduling"
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


def ensure_sweep_scheduled(connection: Redis) -> bool:
    """Put the repeating sweep in place unless it is queued or running; True if (re)created."""
    lock = connection.lock(_SCHEDULING_LOCK, timeout=30)
    if not lock.acquire(blocking=False):
        return False
    try:
        try:
            existing = Job.fetch(SWEEP_JOB_ID, connection=connection)
        except NoSuchJobError:
            existing = None
        if existing is not None:
            if existing.get_status() in _LIVE:
                return False
            existing.delete()
        Queue(MAINTENANCE_QUEUE, connection=connection).enqueue(
            sweep_line, job_id=SWEEP_JOB_ID, description="sweep the line",
            repeat=Repeat(times=SWEEP_REPEATS, interval=SWEEP_INTERVAL_SECONDS),
            retry=Retry(max=3, interval=[5, 10, 20]), job_timeout=120,
            result_ttl=SWEEP_INTERVAL_SECONDS * 10, failure_ttl=24 * 3600,
        )
        return True
    finally:
        lock.release()
