"""Redis stops or hangs during calls: callers still hear the line, and nobody is lost.

The app runs in its own waitress process and the callback job in a real `madoguchi worker`, both
on a private redis-server that the test kills (SIGKILL, losing every key) or freezes (SIGSTOP).
"""

from __future__ import annotations

import pytest
from redis import Redis
from sqlalchemy import select

from call_queue import operator_states
from call_queue.operators import OperatorBoard
from madoguchi.models import CallbackRequest, utcnow
from tests import factories
from tests.faults.conftest import WEBHOOK_SECONDS, http_caller, is_twiml, signed_post
from tests.faults.processes import wait_until

MOBILE = "+819012345678"
# The worker backs off up to 16 s after an outage, then the sweep dispatches and dials.
PLACED_WITHIN_SECONDS = 60


def _outage(redis_server, kind: str) -> None:
    if kind == "stopped":
        redis_server.stop()
    else:
        redis_server.hang()


def _recover(redis_server, kind: str) -> None:
    if kind == "stopped":
        redis_server.start()  # empty: jobs, board and schedules are rebuilt from the database
    else:
        redis_server.resume()


def _free_operator(committed_db, redis_url: str) -> int:
    with committed_db() as session:
        operator_id = factories.operator(session).id
        session.commit()
        operator_states.set_state(session, OperatorBoard(Redis.from_url(redis_url)), operator_id,
                           "available", utcnow())
    return operator_id


@pytest.mark.parametrize("kind", ["stopped", "hung"])
def test_while_redis_is_down_every_webhook_answers_twiml_in_time_and_a_callback_is_kept(
        kind, redis_server, committed_db, start_web, start_worker, network):
    _free_operator(committed_db, redis_server.url)
    web = start_web()
    worker = start_worker()
    wait_until(lambda: "sweep the line" in worker.output(), 30, "the worker's first sweep")
    _outage(redis_server, kind)

    caller = http_caller(web, MOBILE)
    caller.dial()
    caller.press("1")  # 日本語
    offer = caller.press("4")  # a person: the board cannot be read, so a callback is offered
    assert "折り返し" in offer.text, offer.text
    caller.press("1")  # call me back on this number
    when = caller.press("1")  # yes, that number
    assert "できるだけ早く" in when.text, when.text
    taken = caller.press("1")  # as soon as possible
    assert "承りました" in taken.text and taken.hung_up, taken.text
    holder = http_caller(web, "+819087654321", sid_digit="2")
    holder.post("https://madoguchi.example.test/voice/queue/wait?l=ja", QueueTime="40")
    assert holder.doc.status == 200 and holder.doc.verbs, holder.doc.verbs
    others = [
        signed_post(web, "/voice/queue/choice?l=ja", CallSid="CA" + "3" * 32, Digits="2"),
        signed_post(web, "/voice/fallback", CallSid="CA" + "4" * 32),
    ]
    assert all(is_twiml(response) for response in others)
    status = signed_post(web, "/voice/status", CallSid=caller.call_sid, CallStatus="completed",
                         SequenceNumber="9")
    assert status.status_code == 204
    slow = [(path, round(seconds, 2)) for path, seconds in
            caller.client.timings + holder.client.timings if seconds > WEBHOOK_SECONDS]
    slow += [("other", round(r.seconds, 2)) for r in [*others, status]
             if r.seconds > WEBHOOK_SECONDS]
    assert slow == []

    with committed_db() as session:
        request = session.scalar(select(CallbackRequest))
        assert request is not None and request.phone_e164 == MOBILE
        assert request.status == "waiting"

    _recover(redis_server, kind)
    ringing = wait_until(network.ringing_calls, PLACED_WITHIN_SECONDS,
                         f"the callback placed after Redis returned\n{worker.output()[-3000:]}",
                         every=0.5)
    assert [call.to_number for call in ringing] == [MOBILE]
    assert worker.process.poll() is None, worker.output()[-3000:]
