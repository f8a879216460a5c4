"""Dispatch: a free operator takes the earliest party, a holder off hold or a callback job."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC

import pytest
import requests
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import update
from sqlalchemy.orm import Session
from twilio.http import HttpClient
from twilio.http.response import Response

from call_queue import dispatch as dispatching
from call_queue import holding, job_scheduling, line_services, operator_bridge
from call_queue.dispatch import PAUSE_SECONDS, PAUSED_KEY, Dispatcher
from call_queue.job_scheduling import callback_job_id
from madoguchi.job_queues import DEFAULT_QUEUE
from madoguchi.models import Call, CallbackRequest, Operator
from madoguchi.telephony.twilio_adapter import TwilioTelephony
from tests import factories
from tests.call_queue.conftest import callback_request, fetch, free_operator, live_holder
from tests.madoguchi.test_cli import run_worker_burst


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


class TwilioAnswering(HttpClient):
    """Twilio's REST API as the dispatcher meets it: `answer` runs for each request."""

    def __init__(self, answer) -> None:
        super().__init__(logging.getLogger("test"), is_async=False)
        self.answer = answer
        self.asked: list[str] = []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        self.asked.append(uri)
        return self.answer()


def on_twilio(session, answer) -> tuple[Dispatcher, TwilioAnswering]:
    """The app's dispatcher, asking Twilio's API (through Twilio's own client) instead."""
    http = TwilioAnswering(answer)
    twilio = TwilioTelephony("AC" + "a" * 32, "secret-token", "+81312345678", http_client=http)
    return replace(line_services.dispatcher(session), telephony=twilio), http


def meanwhile_then_no_answer(committed_db, webhook: Callable[[Session], None]
                             ) -> Callable[[], Response]:
    """Twilio's answer that never comes, while one of our webhooks runs (on its own session)."""

    def answer() -> Response:
        session = committed_db()
        try:
            webhook(session)
        finally:
            session.close()
        raise requests.ReadTimeout("Read timed out. (read timeout=4)")

    return answer


def busy() -> Response:
    return Response(429, json.dumps({"code": 20429, "message": "Too Many Requests",
                                     "status": 429}))


def test_a_twilio_refusal_keeps_the_holder_s_place_and_the_operator_s(
        line_ctx, network, redis_client):
    # Launch day: Twilio's API answers 429. Nobody who waits may lose their place for it.
    session = line_ctx
    operator_id = free_operator(session)
    first = live_holder(session, network, minutes=5, number="+819011110011")
    second = live_holder(session, network, minutes=2, number="+819011110012")
    idle_since = line_services.board().get(operator_id).since
    dispatcher, twilio = on_twilio(session, busy)
    assert dispatcher.run(line_services.utcnow()) == []
    assert len(twilio.asked) == 1  # the second holder is not tried against the same trouble
    for holder in (first, second):
        row = fetch(session, Call, holder.id)
        assert (row.operator_id, row.ended_at, row.outcome) == (None, None, "queued")
    state = line_services.board().get(operator_id)
    assert (state.state, state.since) == ("available", idle_since)
    assert fetch(session, Operator, operator_id).state == "available"
    # For a few seconds nobody asks Twilio again (every webhook would, in a spell of 429s).
    again, asked_again = on_twilio(session, busy)
    assert again.run(line_services.utcnow()) == [] and asked_again.asked == []
    assert 0 < redis_client.ttl(PAUSED_KEY) <= PAUSE_SECONDS
    redis_client.delete(PAUSED_KEY)  # the pause is over and Twilio answers again
    assigned = line_services.dispatch(session)
    assert [(a.operator_id, a.party.id) for a in assigned] == [(operator_id, first.id)]


def test_the_worker_puts_the_holder_through_the_moment_the_pause_ends(
        base_env, line_ctx, network, redis_client, monkeypatch):
    # In a quiet spell no caller joins and no operator comes free: without its own job the
    # operator freed by the refusal would sit idle beside a waiting caller until the sweep.
    monkeypatch.setattr(dispatching, "PAUSE_SECONDS", 1)
    session = line_ctx
    operator_id = free_operator(session)
    holder = live_holder(session, network, minutes=3, number="+819011110015")
    dispatcher, _ = on_twilio(session, busy)
    assert dispatcher.run(line_services.utcnow()) == []
    registry = ScheduledJobRegistry(DEFAULT_QUEUE, connection=redis_client)
    (job_id,) = registry.get_job_ids()
    assert job_id.startswith("dispatch-after-pause-")
    job = Job.fetch(job_id, connection=redis_client)
    assert job.func_name == job_scheduling.AFTER_PAUSE
    due = registry.get_scheduled_time(job).replace(tzinfo=UTC)
    assert due.timestamp() >= time.time() + redis_client.pttl(PAUSED_KEY) / 1000 - 0.05
    time.sleep(max(0.0, due.timestamp() - time.time()) + 1.0)  # whole seconds in RQ

    completed = run_worker_burst(base_env)  # no sweep in a burst: only the scheduled job runs
    assert completed.returncode == 0, completed.stderr
    job = Job.fetch(job_id, connection=redis_client)
    assert job.get_status() == JobStatus.FINISHED and job.return_value() == 1
    assert fetch(session, Call, holder.id).operator_id == operator_id
    control = network.take_control(holder.call_sid)
    assert control is not None and control.url.endswith(f"/voice/queue/bridge?call={holder.id}")


def test_a_pause_job_that_finds_the_line_still_paused_comes_back_when_it_ends(
        line_ctx, network, redis_client):
    # The worker's clock runs ahead of the web host's that paused: its job is due early.
    from call_queue import callback_jobs

    session = line_ctx
    free_operator(session)
    holder = live_holder(session, network, minutes=2, number="+819011110018")
    redis_client.set(PAUSED_KEY, "1", px=2500)
    due_second = int(time.time())
    assert callback_jobs.after_pause(due_second) == 0
    assert fetch(session, Call, holder.id).operator_id is None  # nobody asked Twilio yet
    registry = ScheduledJobRegistry(DEFAULT_QUEUE, connection=redis_client)
    (job_id,) = registry.get_job_ids()
    again = registry.get_scheduled_time(Job.fetch(job_id, connection=redis_client))
    assert again.replace(tzinfo=UTC).timestamp() >= max(time.time() + 2.0, due_second + 1)


def test_a_disabled_account_still_on_the_board_is_given_nobody(line_ctx, network):
    # Disabled while Redis could not be told: dispatch meets them on the board.
    session = line_ctx
    disabled = free_operator(session)
    other = free_operator(session)
    session.execute(update(Operator).where(Operator.id == disabled).values(active=False))
    session.commit()
    holder = live_holder(session, network, minutes=2, number="+819011110016")
    assigned = line_services.dispatch(session)
    assert [(a.operator_id, a.party.id) for a in assigned] == [(other, holder.id)]
    assert line_services.board().get(disabled).state == "offline"


def test_disabling_an_account_takes_it_off_the_board(line_ctx, network):
    from agent_console.services import accounts

    session = line_ctx
    admin = factories.operator(session, role="admin")
    session.commit()
    operator_id = free_operator(session)
    accounts.set_active(session, operator_id, False, acting_id=admin.id)
    assert line_services.board().get(operator_id).state == "offline"
    accounts.set_active(session, operator_id, False, acting_id=admin.id)  # a second click
    holder = live_holder(session, network, minutes=2, number="+819011110017")
    assert line_services.dispatch(session) == []
    assert fetch(session, Call, holder.id).operator_id is None


def test_a_holder_whose_redirect_had_no_answer_waits_at_their_place(line_ctx, network):
    session = line_ctx
    operator_id = free_operator(session)
    holder = live_holder(session, network, minutes=3, number="+819011110013")

    def no_answer() -> Response:
        raise requests.ReadTimeout("Read timed out. (read timeout=5)")

    dispatcher, _ = on_twilio(session, no_answer)
    assert dispatcher.run(line_services.utcnow()) == []
    row = fetch(session, Call, holder.id)
    assert (row.operator_id, row.ended_at, row.outcome) == (None, None, "queued")
    assert line_services.board().get(operator_id).state == "available"
    assert fetch(session, Operator, operator_id).state == "available"
    # The redirect had reached Twilio after all: the late bridge puts them back on hold.
    call, operator = operator_bridge.put_holder_through(session, holder.id)
    assert operator is None and call.answered_at is None and call.queued_at == row.queued_at


def test_a_redirect_whose_answer_came_too_late_but_reached_the_bridge_stays_put_through(
        line_ctx, network, committed_db):
    # Twilio redirected the call and the bridge dialled the operator before the read timed
    # out: the operator is on that call, not free for another.
    session = line_ctx
    operator_id = free_operator(session)
    holder = live_holder(session, network, minutes=3, number="+819011110014")

    def bridged(webhook) -> None:
        _, operator = operator_bridge.put_holder_through(webhook, holder.id)
        assert operator is not None and operator.id == operator_id

    dispatcher, _ = on_twilio(session, meanwhile_then_no_answer(committed_db, bridged))
    assigned = dispatcher.run(line_services.utcnow())
    assert [(a.operator_id, a.party.id) for a in assigned] == [(operator_id, holder.id)]
    row = fetch(session, Call, holder.id)
    assert row.operator_id == operator_id and row.answered_at is not None
    assert line_services.board().get(operator_id).state == "on_call"


def test_a_holder_twilio_says_has_hung_up_leaves_the_line(line_ctx, network):
    session = line_ctx
    free_operator(session)
    gone = live_holder(session, network, minutes=3, number="+819011110015")

    def call_over() -> Response:
        return Response(400, json.dumps({"code": 21220, "message": "Call is not in-progress. "
                                         "Cannot redirect.", "status": 400}))

    dispatcher, _ = on_twilio(session, call_over)
    assert dispatcher.run(line_services.utcnow()) == []
    row = fetch(session, Call, gone.id)
    assert row.outcome == "abandoned" and row.ended_at is not None and row.operator_id is None


def test_a_late_bridge_for_a_holder_given_back_and_taken_by_another_operator_waits_for_theirs(
        line_ctx, network, committed_db):
    # The bridge read the holder as claimed; the dispatcher then gave them back (Twilio's
    # answer never came). One of the two wins, here the line: nobody is dialled until the
    # operator who took the holder next has them redirected.
    session = line_ctx
    holder = live_holder(session, network, minutes=3, number="+819011110017")
    first_id = free_operator(session)  # takes the holder at once
    bridge = committed_db()
    try:
        seen = bridge.get(Call, holder.id)  # the first redirect's bridge reads the claim...
        assert seen.operator_id == first_id
        bridge.commit()
        dispatcher, _ = on_twilio(session, busy)
        assert dispatcher.give_back(holder.id, first_id)  # ...Twilio's answer never came
        second_id = free_operator(session)  # the next operator takes the holder
        assert fetch(session, Call, holder.id).operator_id == second_id
        call, operator = operator_bridge.put_holder_through(bridge, holder.id)
        assert operator is None  # not dialled: the second operator's own redirect comes
        assert fetch(session, Call, holder.id).answered_at is None
        call, operator = operator_bridge.put_holder_through(bridge, holder.id)
    finally:
        bridge.close()
    assert operator.id == second_id and call.answered_at is not None


def test_a_holder_who_hung_up_while_twilio_s_answer_was_awaited_is_nobody_s_call(
        line_ctx, network, committed_db):
    session = line_ctx
    operator_id = free_operator(session)
    holder = live_holder(session, network, minutes=3, number="+819011110018")

    def hung_up(webhook) -> None:  # the Enqueue action of the hang-up, as queue_done runs it
        call = webhook.get(Call, holder.id)
        stranded = holding.leave_hung_up(webhook, call, 30, line_services.utcnow())
        assert stranded == operator_id
        line_services.operator_available(webhook, stranded)

    dispatcher, _ = on_twilio(session, meanwhile_then_no_answer(committed_db, hung_up))
    assert dispatcher.run(line_services.utcnow()) == []
    assert fetch(session, Call, holder.id).outcome == "abandoned"
    assert line_services.board().get(operator_id).state == "available"


@pytest.mark.parametrize("hang_up_seen_by", ["the Enqueue action", "the status callback",
                                             "the status callback, then the Enqueue action"])
def test_an_operator_freed_and_given_another_holder_meanwhile_is_left_on_that_call(
        line_ctx, network, committed_db, hang_up_seen_by):
    # The holder hangs up while Twilio's answer to their redirect is awaited: the hang-up frees
    # the operator, who is given the next holder at once; then Twilio answers "not in
    # progress". That answer must not make the operator available beside their new caller.
    session = line_ctx
    operator_id = free_operator(session)
    gone = live_holder(session, network, minutes=3, number="+819011110031")
    next_one = live_holder(session, network, minutes=1, number="+819011110032")

    def hung_up_and_next_put_through(webhook) -> None:
        # Either frees the operator, which dispatches the next holder to them.
        if hang_up_seen_by != "the Enqueue action":
            assert operator_bridge.holder_call_ended(webhook, gone.call_sid)
        if hang_up_seen_by != "the status callback":  # as queue_done runs it
            call = webhook.get(Call, gone.id)
            stranded = holding.leave_hung_up(webhook, call, 30, line_services.utcnow())
            operator_bridge.free_if_still_theirs(webhook, stranded, call)

    def answer() -> Response:
        webhook = committed_db()
        try:
            hung_up_and_next_put_through(webhook)
        finally:
            webhook.close()
        return Response(400, json.dumps({"code": 21220, "status": 400,
                                         "message": "Call is not in-progress. Cannot redirect."}))

    dispatcher, _ = on_twilio(session, answer)
    assert dispatcher.run(line_services.utcnow()) == []
    assert fetch(session, Call, gone.id).outcome == "abandoned"
    assert fetch(session, Call, next_one.id).operator_id == operator_id
    assert line_services.board().get(operator_id).state == "on_call"


def test_a_run_inside_a_webhook_stops_giving_out_parties_when_its_time_is_up(
        line_ctx, network, monkeypatch):
    # Twilio waits 15 s for a webhook; what a run does not give out, the next run does.
    monkeypatch.setattr(dispatching, "RUN_SECONDS", 0.0)
    session = line_ctx
    operators = [free_operator(session) for _ in range(2)]
    holders = [live_holder(session, network, minutes=m, number=f"+81901111002{m}")
               for m in (4, 2)]
    first = line_services.dispatch(session)
    assert [(a.operator_id, a.party.id) for a in first] == [(operators[0], holders[0].id)]
    second = line_services.dispatch(session)
    assert [(a.operator_id, a.party.id) for a in second] == [(operators[1], holders[1].id)]
