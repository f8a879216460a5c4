"""Dispatch: a free operator takes the earliest party, a holder off hold or a callback job."""

from __future__ import annotations

from rq import Queue
from rq.job import Job

from call_queue import line_services
from call_queue.job_scheduling import callback_job_id
from madoguchi.models import CallbackRequest, Operator
from tests import factories
from tests.call_queue.conftest import callback_request, free_operator, live_holder


def test_a_released_operator_takes_the_earliest_holder_off_hold_to_the_bridge(
        line_ctx, network, redis_client):
    session = line_ctx
    first = live_holder(session, network, minutes=5, number="+819011110001")
    second = live_holder(session, network, minutes=2, number="+819011110002")
    operator_id = free_operator(session)
    control = network.take_control(first.call_sid)
    assert control is not None and control.action == "redirect"
    assert control.url.endswith(f"/voice/queue/bridge?call={first.id}")
    assert network.take_control(second.call_sid) is None
    session.refresh(first)
    assert first.operator_id == operator_id
    assert line_services.board().get(operator_id).state == "on_call"
    assert session.get(Operator, operator_id).state == "on_call"


def test_callbacks_and_holders_are_served_by_original_arrival_and_callbacks_get_a_job(
        line_ctx, network, redis_client):
    session = line_ctx
    holder = live_holder(session, network, minutes=3, number="+819011110003")
    request = callback_request(session, minutes=6, number="+819011110004")
    first_op = free_operator(session)
    session.refresh(request)
    assert (request.status, request.operator_id, request.attempts) == ("dialing", first_op, 1)
    job = Job.fetch(callback_job_id(request.id, 1), connection=redis_client)
    assert job.args == (request.id, 1)  # ids only: no phone number in Redis
    assert network.take_control(holder.call_sid) is None
    second_op = free_operator(session)
    assert network.take_control(holder.call_sid).url.endswith(f"call={holder.id}")
    session.refresh(holder)
    assert holder.operator_id == second_op


def test_a_holder_who_hung_up_is_skipped_and_the_operator_takes_the_next_party(
        line_ctx, network, redis_client):
    session = line_ctx
    gone = live_holder(session, network, minutes=5, number="+819011110005")
    network.set_status(gone.call_sid, "completed")
    waiting = live_holder(session, network, minutes=1, number="+819011110006")
    operator_id = free_operator(session)
    session.refresh(gone)
    session.refresh(waiting)
    assert gone.operator_id is None and gone.outcome == "abandoned" and gone.ended_at
    assert waiting.operator_id == operator_id


def test_an_operator_with_nobody_waiting_stays_available_in_idle_order(line_ctx, redis_client):
    session = line_ctx
    first = free_operator(session)
    second = free_operator(session)
    assert line_services.board().available_ids(line_services.utcnow()) == [first, second]
    assert Queue("default", connection=redis_client).count == 0


def test_the_board_is_rebuilt_from_the_database_when_redis_comes_back_empty(
        line_ctx, network, redis_client):
    session = line_ctx
    operator_id = free_operator(session)
    busy = factories.operator(session)
    session.commit()
    line_services.operator_finished(session, busy.id)  # wrap-up, saved in the database too
    redis_client.flushdb()  # Redis restarted empty
    holder = live_holder(session, network, minutes=1, number="+819011110007")
    assert line_services.operators_on_duty(session) == 2
    assigned = line_services.dispatch(session)
    assert [a.operator_id for a in assigned] == [operator_id]
    session.refresh(holder)
    assert holder.operator_id == operator_id


def test_a_caller_joining_while_an_operator_is_free_is_put_through_at_once(
        line_ctx, network, redis_client):
    session = line_ctx
    operator_id = free_operator(session)
    holder = live_holder(session, network, minutes=0, number="+819011110008")
    line_services.dispatch(session)
    session.refresh(holder)
    assert holder.operator_id == operator_id
    assert network.take_control(holder.call_sid) is not None
    assert session.query(CallbackRequest).count() == 0
