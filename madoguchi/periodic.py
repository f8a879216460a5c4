"""Repeating jobs declared as data, and the one function that keeps them scheduled.

Each package declares its repeating jobs as `PERIODIC_JOBS` (a tuple of PeriodicJob); the worker
(a composition root) gathers them and calls `ensure_periodic_jobs` at start and at every
housekeeping. A fixed job id means at most one chain of each exists however many workers run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from redis import Redis
from rq import Queue, Repeat, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job

from madoguchi.job_queues import MAINTENANCE_QUEUE, is_live

log = logging.getLogger(__name__)

_SCHEDULING_LOCK = "madoguchi:lock:maintenance-scheduling"


@dataclass(frozen=True)
class PeriodicJob:
    """A job run every `interval_seconds`, `repeats` times before a worker renews the chain."""

    job_id: str
    func: Callable[[], object]
    interval_seconds: int
    repeats: int
    description: str


def ensure_repeating(connection: Redis, job: PeriodicJob) -> bool:
    """Enqueue a repeating job under its fixed id unless it is already queued or running.

    Returns True when this call (re)created it. Callers hold the scheduling lock.
    """
    try:
        existing = Job.fetch(job.job_id, connection=connection)
    except NoSuchJobError:
        existing = None
    if existing is not None:
        if is_live(existing):
            return False
        existing.delete()  # finished its repeats, failed for good or lost its worker: afresh
    Queue(MAINTENANCE_QUEUE, connection=connection).enqueue(
        job.func,
        job_id=job.job_id,
        description=job.description,
        repeat=Repeat(times=job.repeats, interval=job.interval_seconds),
        retry=Retry(max=3, interval=[10, 20, 30]),
        job_timeout=600,
        result_ttl=job.interval_seconds * 10,
        failure_ttl=24 * 3600,
    )
    log.info("scheduled %s every %d seconds", job.description, job.interval_seconds)
    return True


def scheduling_lock(connection: Redis):
    """The lock workers take while (re)creating repeating jobs."""
    return connection.lock(_SCHEDULING_LOCK, timeout=30)


def ensure_periodic_jobs(connection: Redis, jobs: Iterable[PeriodicJob]) -> bool:
    """Put every given repeating job in place unless already there; True if any was (re)created.

    False at once when another worker holds the scheduling lock (it is doing the same).
    """
    lock = scheduling_lock(connection)
    if not lock.acquire(blocking=False):
        return False
    try:
        created = [ensure_repeating(connection, job) for job in jobs]
        return any(created)
    finally:
        lock.release()


def all_scheduled(connection: Redis, jobs: Iterable[PeriodicJob]) -> bool:
    """True when a job exists under each id (a Redis that came back empty has none)."""
    keys = [Job.key_for(job.job_id) for job in jobs]
    return connection.exists(*keys) == len(keys)
