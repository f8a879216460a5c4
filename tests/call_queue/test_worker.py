"""The line's jobs under a real `madoguchi worker` process, and the sweep's schedule."""

from __future__ import annotations

from rq import Queue
from rq.job import Job, JobStatus
from sqlalchemy import select

from call_queue import callback_jobs, job_scheduling
from madoguchi import periodic
from madoguchi.job_queues import MAINTENANCE_QUEUE
from madoguchi.models import CallbackAttempt
from tests.call_queue.conftest import callback_request, free_operator
from tests.madoguchi.test_cli import run_worker_burst


def test_a_worker_process_places_a_callback_once_even_when_its_job_is_queued_twice(
        base_env, line_ctx, network, redis_client):
    session = line_ctx
    request = callback_request(session, minutes=2, number="+819012340000")
    free_operator(session)  # dispatch enqueues callback-{id}-1
    # already queued:
    assert not job_scheduling.enqueue_callback_attempt(redis_client, request.id, 1)
    completed = run_worker_burst(base_env)
    assert completed.returncode == 0, completed.stderr
    job = Job.fetch(job_scheduling.callback_job_id(request.id, 1), connection=redis_client)
    assert job.get_status() == JobStatus.FINISHED
    assert job_scheduling.enqueue_callback_attempt(redis_client, request.id, 1)  # a late duplicate
    assert run_worker_burst(base_env).returncode == 0
    attempts = session.scalars(select(CallbackAttempt)).all()
    session.commit()
    assert [(a.request_id, a.attempt_no) for a in attempts] == [(request.id, 1)]
    assert [call.to_number for call in network.ringing_calls()] == ["+819012340000"]


def test_the_sweep_and_reminders_are_scheduled_once_with_fixed_ids_and_no_arguments(
        redis_client):
    assert periodic.ensure_periodic_jobs(redis_client, callback_jobs.PERIODIC_JOBS) is True
    assert periodic.ensure_periodic_jobs(redis_client, callback_jobs.PERIODIC_JOBS) is False
    job = Job.fetch(callback_jobs.SWEEP.job_id, connection=redis_client)
    assert job.func_name == "call_queue.callback_jobs.sweep_line"
    assert (job.args, job.kwargs) == ((), {})
    assert job.repeat_intervals == [callback_jobs.SWEEP.interval_seconds]
    reminders = Job.fetch(callback_jobs.REMINDERS.job_id, connection=redis_client)
    assert reminders.func_name == "call_queue.callback_jobs.send_reminders" and reminders.args == ()
    stuck = Job.fetch(callback_jobs.STUCK_OPERATORS.job_id, connection=redis_client)
    assert stuck.func_name == "call_queue.callback_jobs.free_stuck_operators" and stuck.args == ()
    queued = Queue(MAINTENANCE_QUEUE, connection=redis_client).job_ids
    assert sorted(queued) == sorted([callback_jobs.SWEEP.job_id, callback_jobs.REMINDERS.job_id,
                                     callback_jobs.STUCK_OPERATORS.job_id])
