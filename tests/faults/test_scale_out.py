"""Two web processes and two workers on one database and one Redis serve one line.

Callers' webhooks are spread over both web processes (as a load balancer would); both report the
same places in the line; one web process is killed and its callers carry on through the other;
operators who come free take the line in arrival order, each party once, and the callback
among them is dialled once although two workers listen.
"""

from __future__ import annotations

import re
import time

from redis import Redis
from sqlalchemy import select

from call_queue import line_services, operator_states
from call_queue.operators import OperatorBoard
from madoguchi.models import Call, CallbackRequest, utcnow
from madoguchi.telephony.network import SimulatedCall
from tests import factories
from tests.faults.conftest import http_caller
from tests.faults.processes import wait_until
from tests.ivr.conftest import BASE

NUMBERS = ["+819010000001", "+819010000002", "+819010000003", "+819010000004"]


def _position(caller) -> int:
    doc = caller.post(f"{BASE}/voice/queue/wait?l=ja", QueueTime="60")
    found = re.search(r"(\d+)番目", doc.text)
    assert found, doc.text
    return int(found.group(1))


def _redirects(network, sid: str) -> list[str]:
    controls = []
    while (control := network.take_control(sid)) is not None:
        controls.append(control.url)
    return controls


def test_two_web_processes_and_two_workers_keep_one_line_and_lose_no_caller_when_one_dies(
        line_app, committed_db, redis_server, start_webs, start_worker, network):
    board = OperatorBoard(Redis.from_url(redis_server.url))
    with committed_db() as session:
        operators = [factories.operator(session).id for _ in range(2)]
        session.commit()
        for operator_id in operators:  # both busy: callers wait in line
            operator_states.set_state(session, board, operator_id, "on_call", utcnow())
    start_worker(), start_worker()
    web_a, web_b = start_webs(2)

    callers = []
    for n, number in enumerate(NUMBERS):
        caller = http_caller(web_a if n % 2 == 0 else web_b, number, sid_digit=str(n + 1))
        caller.dial()
        queued = caller.press("0")  # a person, at once
        assert "Enqueue" in queued.verbs, queued.text
        network.save_call(SimulatedCall(sid=caller.call_sid, direction="inbound",
                                        from_number=number, to_number="+81312345678",
                                        status="in-progress"))
        callers.append(caller)
        time.sleep(0.01)  # distinct arrival times
    assert [_position(caller) for caller in callers] == [1, 2, 3, 4]
    for caller in callers:  # each asks the other process
        caller.client.web = web_b if caller.client.web is web_a else web_a
    assert [_position(caller) for caller in callers] == [1, 2, 3, 4]

    web_a.kill()
    for caller in callers:  # the balancer sends everyone to the survivor
        caller.client.web = web_b
    assert [_position(caller) for caller in callers] == [1, 2, 3, 4]
    last = callers[3]
    last.press("1")  # leave the line for a callback, keeping the place
    left = last.post(last.history[1].root.find("Enqueue").get("action"), QueueResult="leave",
                     QueueTime="70")
    assert "0 9 0" in left.text, left.text
    taken = last.press("1")
    if not taken.hung_up:  # asked when to call: as soon as possible
        taken = last.press("1")
    assert "承りました" in taken.text and taken.hung_up, taken.text

    with committed_db() as session, line_app.app_context():
        taken_by = []
        for operator_id in [operators[0], operators[1], operators[0], operators[1]]:
            assigned = line_services.operator_available(session, operator_id)
            taken_by += [(a.party.kind, a.operator_id) for a in assigned]
        holders = session.execute(select(Call.call_sid, Call.operator_id).order_by(Call.id)).all()
        request = session.scalar(select(CallbackRequest))
    assert taken_by == [("holding", operators[0]), ("holding", operators[1]),
                        ("holding", operators[0]), ("callback", operators[1])]
    assert [operator for _, operator in holders[:3]] == [operators[0], operators[1],
                                                         operators[0]]
    for caller in callers[:3]:
        assert len(_redirects(network, caller.call_sid)) == 1
    assert request.phone_e164 == NUMBERS[3] and request.operator_id == operators[1]
    ringing = wait_until(network.ringing_calls, 30, "the callback placed by a worker")
    time.sleep(2)  # the other worker would dial now if it could
    assert [call.to_number for call in network.ringing_calls()] == [NUMBERS[3]] == [
        call.to_number for call in ringing]
