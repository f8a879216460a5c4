"""The RQ worker: runs jobs inside the app, one forked work horse per job."""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Sequence

from flask import Flask
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker

from agent_console.services import line_watch
from call_queue import callback_jobs
from ivr import recordings_sweep
from madoguchi import job_queues, maintenance, periodic
from madoguchi.redis_conn import sturdy_options

log = logging.getLogger(__name__)

# Every package's repeating jobs, gathered here (the worker is a composition root).
PERIODIC_JOBS = (*maintenance.PERIODIC_JOBS, *callback_jobs.PERIODIC_JOBS,
                 *line_watch.PERIODIC_JOBS, *recordings_sweep.PERIODIC_JOBS)

# How often a worker does RQ's housekeeping: taking over the scheduler of a dead worker, and
# failing (then retrying) jobs whose worker died.
HOUSEKEEPING_SECONDS = 15
# How long to wait between looks at a Redis that went away (grows up to the maximum).
REDIS_RETRY_SECONDS = 1.0
REDIS_RETRY_MAX_SECONDS = 10.0


class AppWorker(Worker):
    """An RQ worker whose jobs run in a fresh app context, with maintenance kept scheduled."""

    def __init__(self, *args, app: Flask, keep_maintenance_scheduled: bool = True, **kwargs):
        # Frequent job heartbeats let the line tell a job whose worker was killed
        # (job_queues.is_live).
        kwargs.setdefault("job_monitoring_interval", job_queues.JOB_HEARTBEAT_SECONDS)
        # A killed worker's scheduler keeps its lock for a minute; RQ tries to take it over only
        # at housekeeping (every ten minutes, and never while blocked waiting for a job), which
        # would leave the line's sweep and every retry unscheduled that long. Look every
        # HOUSEKEEPING_SECONDS and wake from the queue wait at least that often.
        kwargs.setdefault("maintenance_interval", HOUSEKEEPING_SECONDS)
        kwargs.setdefault("worker_ttl", HOUSEKEEPING_SECONDS + 15)  # RQ waits for jobs ttl-15 s
        super().__init__(*args, **kwargs)
        self.app = app
        self.keep_maintenance_scheduled = keep_maintenance_scheduled
        self.stop_was_requested = False

    def request_stop(self, signum, frame) -> None:
        """A warm shutdown (SIGTERM/SIGINT): remember it so the worker is not started again."""
        self.stop_was_requested = True
        super().request_stop(signum, frame)

    @property
    def should_run_maintenance_tasks(self) -> bool:
        """RQ's schedule, or at once when Redis came back empty and the repeating jobs are gone."""
        if super().should_run_maintenance_tasks:
            return True
        return self.keep_maintenance_scheduled and not periodic.all_scheduled(self.connection,
                                                                        PERIODIC_JOBS)

    def main_work_horse(self, job, queue):
        """In the forked horse: drop the parent's pooled connections before touching the db."""
        self.app.extensions["madoguchi_db"].dispose_for_fork()
        super().main_work_horse(job, queue)

    def perform_job(self, job, queue, execution) -> bool:
        """Run one job in its own app context so its session is closed when it ends."""
        with self.app.app_context():
            return super().perform_job(job, queue, execution)

    def run_maintenance_tasks(self) -> None:
        """RQ's periodic housekeeping, plus making sure every repeating job exists."""
        super().run_maintenance_tasks()
        if self.keep_maintenance_scheduled:
            periodic.ensure_periodic_jobs(self.connection, PERIODIC_JOBS)


def connect_worker_redis(url: str) -> Redis:
    """A Redis connection for the worker (RQ sets its own blocking timeouts)."""
    return Redis.from_url(url, **sturdy_options(url))


def run_worker(
    app: Flask, connection: Redis, queue_names: Sequence[str], *, burst: bool = False,
    logging_level: str = "INFO",
) -> bool:
    """Work the given queues with the scheduler on; in burst mode stop when they are empty.

    RQ's worker quits when Redis fails under it (a restart, a hang); this one waits for Redis
    to answer again and carries on with a fresh worker, until it is asked to stop.
    """
    queues = [Queue(name, connection=connection) for name in queue_names]
    with app.app_context():
        while True:
            worker = AppWorker(
                queues, connection=connection, app=app, keep_maintenance_scheduled=not burst
            )
            try:
                worked = worker.work(burst=burst, with_scheduler=True,
                                     logging_level=logging_level)
            except RedisError as exc:
                log.error("worker lost Redis: %s", exc)
                worked = False
            if burst or worker.stop_was_requested:
                return worked
            log.warning("worker stopped without being asked to; starting again once Redis "
                        "answers")
            # The stopped worker's signal handlers would act on it: a stop now ends the process.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            wait_for_redis(connection)


def wait_for_redis(connection: Redis) -> None:
    """Block until Redis answers a PING, looking again at growing intervals."""
    pause = REDIS_RETRY_SECONDS
    while True:
        try:
            connection.ping()
            return
        except RedisError:
            time.sleep(pause)
            pause = min(pause * 2, REDIS_RETRY_MAX_SECONDS)
