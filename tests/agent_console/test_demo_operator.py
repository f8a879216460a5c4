"""The demo's simulated operator works the line as a person at the work screen would."""

from __future__ import annotations

from datetime import timedelta

from agent_console.services import demo_operator
from agent_console.services.operator_line import SimulatedOperatorLine, client_name
from call_queue import line_services, operator_bridge
from madoguchi.models import Call, utcnow
from tests.call_queue.conftest import (  # noqa: F401 (line_ctx and network are fixtures)
    fetch,
    line_ctx,
    live_holder,
    network,
)


def test_the_simulated_operator_takes_a_caller_talks_hangs_up_wraps_up_and_is_free_again(
        line_ctx, network):  # noqa: F811
    session = line_ctx
    actor = demo_operator.ensure_account(session)
    assert demo_operator.ensure_account(session) == actor  # one account however often started
    worker = demo_operator.DemoOperator(actor, SimulatedOperatorLine(network),
                                        talk_seconds=60, wrap_seconds=5)
    start = utcnow()
    assert worker.step(session, start) == "available"

    holder = live_holder(session, network, minutes=2, number="+819033330001")
    line_services.dispatch(session, start)
    assert fetch(session, Call, holder.id).operator_id == actor.operator_id
    assert network.take_control(holder.call_sid).action == "redirect"
    operator_bridge.put_holder_through(session, holder.id, start)
    network.set_status(holder.call_sid, "in-progress",
                       bridged_to=f"client {client_name(actor.operator_id)}")

    assert worker.step(session, start + timedelta(seconds=1)) == "on_call"
    assert worker.step(session, start + timedelta(seconds=59)) == "on_call"
    assert network.take_control(holder.call_sid) is None  # still talking
    worker.step(session, start + timedelta(seconds=62))
    assert network.take_control(holder.call_sid).action == "end-dial"  # the End call button

    # The network runs the Dial action once the operator's side has hung up.
    ended = start + timedelta(seconds=63)
    operator_bridge.after_holder_dial(session, holder.id, completed=True,
                                      dial_sid="CA" + "7" * 32, now=ended)
    assert worker.step(session, ended + timedelta(seconds=2)) == "wrap_up"
    assert worker.step(session, ended + timedelta(seconds=6)) == "available"
    call = fetch(session, Call, holder.id)
    assert (call.disposition, call.wrap_notes) == ("resolved", demo_operator.NOTES)

    worker.go_offline(session)
    assert line_services.board().get(actor.operator_id).state == "offline"
