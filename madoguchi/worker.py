"""The RQ worker: runs jobs inside the app, one forked work horse per job."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from flask import Flask
from redis import Redis
from rq import Queue, Worker

from call_queue import jobs as line_jobs
from madoguchi import jobs

log = logging.getLogger(__name__)


class AppWorker(Worker):
    """An RQ worker whose jobs run in a fresh app context, with maintenance kept scheduled."""

    def __init__(self, *args, app: Flask, keep_maintenance_scheduled: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app
        self.keep_maintenance_scheduled = keep_maintenance_scheduled

    def main_work_horse(self, job, queue):
        """In the forked horse: drop the parent's pooled connections before touching the db."""
        self.app.extensions["madoguchi_db"].dispose_for_fork()
        super().main_work_horse(job, queue)

    def perform_job(self, job, queue, execution) -> bool:
        """Run one job in its own app context so its session is closed when it ends."""
        with self.app.app_context():
            return super().perform_job(job, queue, execution)

    def run_maintenance_tasks(self) -> None:
        """RQ's periodic housekeeping, plus making sure the hold-release job exists."""
        super().run_maintenance_tasks()
        if self.keep_maintenance_scheduled:
            jobs.ensure_maintenance_scheduled(self.connection)
            line_jobs.ensure_sweep_scheduled(self.connection)


def connect_worker_redis(url: str) -> Redis:
    """A Redis connection for the worker (RQ sets its own blocking timeouts)."""
    return Redis.from_url(url)


def run_worker(
    app: Flask, connection: Redis, queue_names: Sequence[str], *, burst: bool = False
) -> bool:
    """Work the given queues with the scheduler on; in burst mode stop when they are empty."""
    queues = [Queue(name, connection=connection) for name in queue_names]
    with app.app_context():
        worker = AppWorker(
            queues, connection=connection, app=app, keep_maintenance_scheduled=not burst
        )
        return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
