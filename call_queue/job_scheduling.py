"""Putting the line's jobs on the queue: callback attempts, the end of a wrap-up, a retry due.

Jobs take ids only (never phone numbers). A callback attempt's job id is
`callback-{request_id}-{attempt_no}`, so enqueueing it twice makes one job; the attempt row in
the database makes sure that even a job that runs twice dials once. When an operator's wrap-up
ends, a one-off job scheduled for that moment (`wrap-up-end-{operator_id}-{start}`) dispatches at
once, and so does one when a callback's retry pause ends (`callback-due-{request_id}-{attempt_no}`)
and one when the line's pause after a phone network failure ends
(`dispatch-after-pause-{epoch second}`).
The jobs themselves live in `call_queue.callback_jobs` and are named here by their import path,
so the line's services can schedule them without importing the jobs that call those services.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job

from madoguchi.job_queues import DEFAULT_QUEUE, is_live

PLACE_CALLBACK = "call_queue.callback_jobs.place_callback"
END_WRAP_UP = "call_queue.callback_jobs.end_wrap_up"
CALLBACK_DUE = "call_queue.callback_jobs.callback_due"
AFTER_PAUSE = "call_queue.callback_jobs.after_pause"
# A callback job is stopped by RQ after this long (a dial is one API request; the pacer's wait
# is seconds); an attempt not dialled within STALE_ATTEMPT_SECONDS belongs to a dead worker.
CALLBACK_JOB_TIMEOUT_SECONDS = 45


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
        if is_live(existing):
            return False
        existing.delete()
    Queue(DEFAULT_QUEUE, connection=connection).enqueue(
        PLACE_CALLBACK, request_id, attempt_no, job_id=job_id,
        description=f"callback {request_id} attempt {attempt_no}",
        retry=Retry(max=2, interval=[5, 15]), job_timeout=CALLBACK_JOB_TIMEOUT_SECONDS,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
    return True


def wrap_up_job_id(operator_id: int, started_at: datetime) -> str:
    """The RQ job id that ends one wrap-up of one operator."""
    return f"wrap-up-end-{operator_id}-{int(started_at.timestamp() * 1000)}"


def _schedule_once(connection: Redis, at: datetime, func: str, arg: int, *, job_id: str,
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
    return _schedule_once(connection, ends_at, END_WRAP_UP, operator_id,
                          job_id=wrap_up_job_id(operator_id, started_at),
                          description=f"end wrap-up of operator {operator_id}")


def callback_due_job_id(request_id: int, attempt_no: int) -> str:
    """The RQ job id that brings a callback back to the line once its retry pause is over."""
    return f"callback-due-{request_id}-{attempt_no}"


def schedule_callback_due(connection: Redis, request_id: int, attempt_no: int,
                          due_at: datetime) -> bool:
    """Dispatch again when a callback's retry pause ends; True if newly scheduled."""
    return _schedule_once(connection, due_at, CALLBACK_DUE, request_id,
                          job_id=callback_due_job_id(request_id, attempt_no),
                          description=f"callback {request_id} due again")


def after_pause_job_id(ends_at: datetime) -> str:
    """The RQ job id that dispatches when a pause of the line ends (one per second)."""
    return f"dispatch-after-pause-{math.ceil(ends_at.timestamp())}"


def schedule_dispatch_after_pause(connection: Redis, ends_at: datetime) -> bool:
    """Dispatch again the moment the line's pause ends; True if newly scheduled."""
    return _schedule_once(connection, ends_at, AFTER_PAUSE, math.ceil(ends_at.timestamp()),
                          job_id=after_pause_job_id(ends_at),
                          description="dispatch after the line's pause")
