"""RQ queues and the maintenance jobs that keep the booking counters honest.

Jobs receive database ids only (never phone numbers or names) and run inside the app context
that `madoguchi worker` provides, so they reach the database through `madoguchi.db`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, Repeat, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from madoguchi import booking, retention
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
RETENTION_JOB_ID = "madoguchi-maintenance-retention-purge"
RETENTION_INTERVAL_SECONDS = 24 * 60 * 60
# A year of days; renewed like the hold release when it has run out or failed.
RETENTION_REPEATS = 366
_SCHEDULING_LOCK = "madoguchi:lock:maintenance-scheduling"
_LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}
# The worker refreshes a running job's heartbeat this often (AppWorker's monitoring interval).
JOB_HEARTBEAT_SECONDS = 10
# A started job whose heartbeat is older than this lost its worker (SIGKILL, a host gone): RQ
# itself notices only at its ten-minute housekeeping, too late for a resident awaiting a call.
DEAD_JOB_SECONDS = 35


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


def is_live(job: Job, now: datetime | None = None) -> bool:
    """True for a job waiting or running; a job lost with a killed worker is not.

    Lost means started with a heartbeat that stopped, or "queued" but no longer in its queue
    (taken off it by a worker killed before it could mark the job started).
    """
    status = job.get_status()
    if status == JobStatus.QUEUED:
        return job.connection.lpos(Queue(job.origin, connection=job.connection).key,
                                   job.id) is not None
    if status != JobStatus.STARTED:
        return status in _LIVE_STATUSES
    beat = job.last_heartbeat or job.started_at
    if beat is None:
        return True
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    return (now or datetime.now(UTC)) - beat < timedelta(seconds=DEAD_JOB_SECONDS)


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
        if is_live(existing):
            return False
        existing.delete()  # finished its repeats, failed for good or lost its worker: afresh
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
    """Put the repeating hold-release and daily retention jobs in place unless already there."""
    lock = scheduling_lock(connection)
    if not lock.acquire(blocking=False):
        return False  # another worker is doing it right now
    try:
        holds = ensure_repeating(
            connection, HOLD_RELEASE_JOB_ID, release_expired_holds,
            interval=HOLD_RELEASE_INTERVAL_SECONDS, repeats=HOLD_RELEASE_REPEATS,
            description="release expired booking holds",
        )
        purge = ensure_repeating(
            connection, RETENTION_JOB_ID, retention.purge_due_records,
            interval=RETENTION_INTERVAL_SECONDS, repeats=RETENTION_REPEATS,
            description="anonymise records past the retention period",
        )
        return holds or purge
    finally:
        lock.release()
