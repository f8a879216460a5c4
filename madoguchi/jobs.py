"""RQ queues and the maintenance jobs that keep the booking counters honest.

Jobs receive database ids only (never phone numbers or names) and run inside the app context
that `madoguchi worker` provides, so they reach the database through `madoguchi.db`.
"""

from __future__ import annotations

import logging

from redis import Redis
from rq import Queue, Repeat, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from madoguchi import booking
from madoguchi.db import database, session_scope
from madoguchi.redis_conn import get_redis

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
MAINTENANCE_QUEUE = "maintenance"
# Every queue a worker listens to unless told otherwise, most urgent first.
QUEUE_NAMES = (DEFAULT_QUEUE, MAINTENANCE_QUEUE)

HOLD_RELEASE_JOB_ID = "madoguchi-maintenance-release-expired-holds"
HOLD_RELEASE_INTERVAL_SECONDS = 60
# One week of minutes; a worker renews the chain whenever it has run out or failed.
HOLD_RELEASE_REPEATS = 7 * 24 * 60
_SCHEDULING_LOCK = "madoguchi:lock:maintenance-scheduling"
_LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}


def get_queue(name: str = DEFAULT_QUEUE, connection: Redis | None = None) -> Queue:
    """An RQ queue on the app's Redis (or the given connection)."""
    return Queue(name, connection=connection or get_redis())


def release_expired_holds() -> int:
    """RQ job: give back the places of holds that were never confirmed; returns how many."""
    with session_scope(database()) as session:
        released = booking.release_expired_holds(session)
    if released:
        log.info("released %d expired hold(s)", released)
    return released


def ensure_repeating(connection: Redis, job_id: str, func, *, interval: int, repeats: int,
                     description: str) -> bool:
    """Enqueue a repeating job under a fixed id unless it is already queued or running.

    The fixed id means at most one chain exists however many workers call this; returns True
    when this call (re)created it. Callers hold the scheduling lock.
    """
    try:
        existing = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        existing = None
    if existing is not None:
        if existing.get_status() in _LIVE_STATUSES:
            return False
        existing.delete()  # finished its repeats or failed for good: start afresh
    Queue(MAINTENANCE_QUEUE, connection=connection).enqueue(
        func,
        job_id=job_id,
        description=description,
        repeat=Repeat(times=repeats, interval=interval),
        retry=Retry(max=3, interval=[10, 20, 30]),
        job_timeout=600,
        result_ttl=interval * 10,
        failure_ttl=24 * 3600,
    )
    log.info("scheduled %s every %d seconds", description, interval)
    return True


def scheduling_lock(connection: Redis):
    """The lock workers take while (re)creating repeating jobs."""
    return connection.lock(_SCHEDULING_LOCK, timeout=30)


def ensure_maintenance_scheduled(connection: Redis) -> bool:
    """Put the repeating hold-release job in place unless it is already queued or running."""
    lock = scheduling_lock(connection)
    if not lock.acquire(blocking=False):
        return False  # another worker is doing it right now
    try:
        return ensure_repeating(
            connection, HOLD_RELEASE_JOB_ID, release_expired_holds,
            interval=HOLD_RELEASE_INTERVAL_SECONDS, repeats=HOLD_RELEASE_REPEATS,
            description="release expired booking holds",
        )
    finally:
        lock.release()
