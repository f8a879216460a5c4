"""The worker is SIGKILLed while it places a callback: the resident is called exactly once.

A real `madoguchi worker` takes the callback's job; its work horse commits the attempt and then
waits for its turn at the outbound pacer, which the test has pushed a few seconds into the
future. The worker and its horse (a process group of its own) are killed in that wait.
"""

from __future__ import annotations

import time
from datetime import timedelta

from redis import Redis
from rq.job import Job, JobStatus
from sqlalchemy import select

from call_queue import callback_jobs, line_services, operator_states
from call_queue.operators import OperatorBoard
from madoguchi.maintenance import HOLD_RELEASE
from madoguchi.models import CallbackAttempt, CallbackRequest, utcnow
from tests import factories
from tests.faults.processes import wait_until

MOBILE = "+819012345678"
PACER_KEY = "madoguchi:pacing:outbound"
LIVE = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED}


def _attempts(committed_db) -> list[tuple[int, str, str | None]]:
    with committed_db() as session:
        rows = session.execute(select(CallbackAttempt.attempt_no, CallbackAttempt.status,
                                      CallbackAttempt.call_sid)
                               .order_by(CallbackAttempt.attempt_no)).all()
    return [tuple(row) for row in rows]


def test_a_callback_whose_worker_is_killed_mid_dial_is_placed_exactly_once_by_the_next(
        line_app, committed_db, redis_server, private_redis, start_worker, network):
    app = line_app
    with committed_db() as session, app.app_context():
        request = CallbackRequest(phone_e164=MOBILE, arrival_at=utcnow(), language="ja",
                                  status="waiting", attempts=0)
        operator_id = factories.operator(session).id
        session.add(request)
        session.commit()
        private_redis.set(PACER_KEY, repr(time.time() + 20))  # the horse will wait its turn
        operator_states.set_state(session, OperatorBoard(Redis.from_url(redis_server.url)),
                           operator_id, "available", utcnow())
        assert [a.party.id for a in line_services.dispatch(session)] == [request.id]

    first = start_worker()
    wait_until(lambda: _attempts(committed_db), 30, "the first attempt committed")
    wait_until(first.horse_pids, 10, "the work horse")
    first.kill()
    assert network.ringing_calls() == []
    assert _attempts(committed_db) == [(1, "dialing", None)]

    private_redis.delete(PACER_KEY)
    second = start_worker()
    # The sweep of a minute later: the attempt that never rang goes back in line, due now.
    later = utcnow() + timedelta(seconds=callback_jobs.STALE_ATTEMPT_SECONDS + 1)
    with committed_db() as session, app.app_context():
        assert callback_jobs.close_stale_attempts(session, later) == 1
    ringing = wait_until(network.ringing_calls, 30, f"the retry placed\n{second.output()}")
    time.sleep(3)  # a late rerun of the killed job would dial now
    assert [call.to_number for call in network.ringing_calls()] == [MOBILE] == [
        call.to_number for call in ringing]
    assert [(no, status) for no, status, _ in _attempts(committed_db)] == [
        (1, "failed"), (2, "dialing")]
    for job_id in (callback_jobs.SWEEP.job_id, callback_jobs.REMINDERS.job_id, HOLD_RELEASE.job_id):
        assert Job.fetch(job_id, connection=private_redis).get_status() in LIVE, job_id
