"""RQ queues, and how to tell a job that is waiting or running from one lost with its worker.

Jobs receive database ids only (never phone numbers or names) and run inside the app context
that `madoguchi worker` provides. Repeating jobs are declared in `madoguchi.periodic`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue
from rq.job import Job, JobStatus

from madoguchi.redis_conn import get_redis

DEFAULT_QUEUE = "default"
MAINTENANCE_QUEUE = "maintenance"
# Every queue a worker listens to unless told otherwise, most urgent first.
QUEUE_NAMES = (DEFAULT_QUEUE, MAINTENANCE_QUEUE)

_LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}
# The worker refreshes a running job's heartbeat this often (AppWorker's monitoring interval).
JOB_HEARTBEAT_SECONDS = 10
# A started job whose heartbeat is older than this lost its worker (SIGKILL, a host gone): RQ
# itself notices only at its ten-minute housekeeping, too late for a resident awaiting a call.
DEAD_JOB_SECONDS = 35


def get_queue(name: str = DEFAULT_QUEUE, connection: Redis | None = None) -> Queue:
    """An RQ queue on the app's Redis (or the given connection)."""
    return Queue(name, connection=connection or get_redis())


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
