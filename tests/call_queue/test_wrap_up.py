"""When an operator's wrap-up ends, the next party is put through at once, not at the next sweep."""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import pytest
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry

from call_queue import job_scheduling, line_services, operator_states
from madoguchi.job_queues import DEFAULT_QUEUE
from madoguchi.models import Call, utcnow
from tests import factories
from tests.call_queue.conftest import fetch, live_holder
from tests.madoguchi.test_cli import run_worker_burst


@pytest.fixture
def short_wrap_up(app):
    """The app's settings with a one-second wrap-up."""
    settings = app.config["SETTINGS"]
    queue = settings.queue.model_copy(update={"wrap_up_seconds": 1})
    app.config["SETTINGS"] = settings.model_copy(
        update={"file": settings.file.model_copy(update={"queue": queue})})
    yield
    app.config["SETTINGS"] = settings


def _operator_on_a_call(session) -> int:
    operator = factories.operator(session)
    session.commit()
    operator_states.set_state(session, line_services.board(), operator.id, "on_call", utcnow())
    return operator.id


def test_the_end_of_a_wrap_up_is_scheduled_once_with_the_operator_id_only(
        line_ctx, redis_client, short_wrap_up):
    session = line_ctx
    operator_id = _operator_on_a_call(session)
    line_services.operator_finished(session, operator_id)
    state = line_services.board().get(operator_id)
    assert state.state == "wrap_up"
    registry = ScheduledJobRegistry(DEFAULT_QUEUE, connection=redis_client)
    job_id = job_scheduling.wrap_up_job_id(operator_id, state.since)
    assert registry.get_job_ids() == [job_id]
    job = Job.fetch(job_id, connection=redis_client)
    assert job.func_name == "call_queue.callback_jobs.end_wrap_up"
    assert (job.args, job.kwargs) == ((operator_id,), {})
    due = registry.get_scheduled_time(job).replace(tzinfo=UTC)
    assert state.until <= due < state.until + timedelta(seconds=1)
    # The same wrap-up scheduled again (a retried webhook) stays one job.
    assert not job_scheduling.schedule_wrap_up_end(redis_client, operator_id, state.since,
                                                   state.until)
    assert registry.get_job_ids() == [job_id]


def test_a_new_wrap_up_of_the_same_operator_gets_its_own_job(line_ctx, redis_client,
                                                              short_wrap_up):
    session = line_ctx
    operator_id = _operator_on_a_call(session)
    line_services.operator_finished(session, operator_id, utcnow())
    time.sleep(0.01)
    line_services.operator_finished(session, operator_id, utcnow())
    registry = ScheduledJobRegistry(DEFAULT_QUEUE, connection=redis_client)
    assert len(registry.get_job_ids()) == 2


def test_a_holder_is_put_through_by_the_worker_as_soon_as_the_wrap_up_ends(
        base_env, line_ctx, network, redis_client, short_wrap_up):
    session = line_ctx
    operator_id = _operator_on_a_call(session)
    holder = live_holder(session, network, minutes=2, number="+819011119999")
    line_services.operator_finished(session, operator_id)
    assert fetch(session, Call, holder.id).operator_id is None  # still in wrap-up
    wrap_up = line_services.board().get(operator_id)
    time.sleep(max(0.0, wrap_up.until.timestamp() - time.time()) + 1.0)  # whole seconds in RQ

    completed = run_worker_burst(base_env)  # no sweep in a burst: only the scheduled job runs
    assert completed.returncode == 0, completed.stderr
    job = Job.fetch(job_scheduling.wrap_up_job_id(operator_id, wrap_up.since),
                    connection=redis_client)
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == 1
    assert fetch(session, Call, holder.id).operator_id == operator_id
    control = network.take_control(holder.call_sid)
    assert control is not None and control.url.endswith(f"/voice/queue/bridge?call={holder.id}")
