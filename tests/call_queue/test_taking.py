"""Operators working the line from the console: their state, take next, take this one."""

from __future__ import annotations

import threading

import pytest

from call_queue import line_services, taking
from madoguchi.models import Call, CallbackRequest, Operator
from tests import factories
from tests.call_queue.conftest import callback_request, fetch, live_holder


def _operator(session, **fields) -> int:
    operator = factories.operator(session, **fields)
    session.commit()
    return operator.id


def test_going_available_takes_the_first_in_line_at_once(line_ctx, network):
    session = line_ctx
    first = live_holder(session, network, minutes=4, number="+819011120001")
    live_holder(session, network, minutes=1, number="+819011120002")
    operator_id = _operator(session)
    taken = taking.set_own_state(session, operator_id, "available")
    assert [(a.party.kind, a.party.id) for a in taken] == [("holding", first.id)]
    assert fetch(session, Call, first.id).operator_id == operator_id
    assert line_services.board().get(operator_id).state == "on_call"


def test_going_available_with_nobody_waiting_leaves_the_operator_available(line_ctx):
    session = line_ctx
    operator_id = _operator(session)
    assert taking.set_own_state(session, operator_id, "available") == []
    assert line_services.board().get(operator_id).state == "available"
    assert fetch(session, Operator, operator_id).state == "available"


def test_away_and_offline_are_saved_on_the_board_and_in_the_database(line_ctx):
    session = line_ctx
    operator_id = _operator(session)
    for state in ("away", "offline"):
        taking.set_own_state(session, operator_id, state)
        assert line_services.board().get(operator_id).state == state
        assert fetch(session, Operator, operator_id).state == state


def test_an_operator_on_a_call_cannot_go_available_or_away_but_can_go_offline(line_ctx, network):
    session = line_ctx
    live_holder(session, network, minutes=2, number="+819011120003")
    operator_id = _operator(session)
    taking.set_own_state(session, operator_id, "available")
    for state in ("available", "away"):
        with pytest.raises(taking.StillOnCall):
            taking.set_own_state(session, operator_id, state)
    taking.set_own_state(session, operator_id, "offline")
    assert line_services.board().get(operator_id).state == "offline"


def test_an_unknown_state_is_refused_with_the_choices(line_ctx):
    session = line_ctx
    operator_id = _operator(session)
    with pytest.raises(ValueError, match="available, away, offline"):
        taking.set_own_state(session, operator_id, "on_call")


def test_a_state_change_wakes_the_live_views(line_ctx, redis_client):
    session = line_ctx
    operator_id = _operator(session)
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe("madoguchi:line-changed")
    taking.set_own_state(session, operator_id, "away")
    # The first read may only consume the subscription's confirmation.
    messages = [listener.get_message(timeout=1) for _ in range(3)]
    listener.close()
    assert {"type": "message", "channel": b"madoguchi:line-changed", "data": b"1",
            "pattern": None} in messages


def test_a_supervisor_takes_a_later_holder_out_of_order(line_ctx, network):
    session = line_ctx
    first = live_holder(session, network, minutes=6, number="+819011120004")
    later = live_holder(session, network, minutes=1, number="+819011120005")
    supervisor_id = _operator(session, role="supervisor")
    assignment = taking.take_this_one(session, supervisor_id, "holding", later.id)
    assert (assignment.operator_id, assignment.party.id) == (supervisor_id, later.id)
    control = network.take_control(later.call_sid)
    assert control is not None and control.url.endswith(f"/voice/queue/bridge?call={later.id}")
    assert network.take_control(first.call_sid) is None
    assert fetch(session, Call, first.id).operator_id is None
    assert line_services.board().get(supervisor_id).state == "on_call"
    assert fetch(session, Operator, supervisor_id).state == "on_call"


def test_a_supervisor_takes_a_callback_and_its_attempt_is_started(line_ctx, network):
    session = line_ctx
    request = callback_request(session, minutes=3, number="+819011120006")
    supervisor_id = _operator(session, role="supervisor")
    taking.take_this_one(session, supervisor_id, "callback", request.id)
    taken = fetch(session, CallbackRequest, request.id)
    assert (taken.status, taken.operator_id, taken.attempts) == ("dialing", supervisor_id, 1)


def test_two_supervisors_taking_the_same_holder_at_once_give_it_to_exactly_one(
        app, committed_db, line_ctx, network):
    session = line_ctx
    holder = live_holder(session, network, minutes=2, number="+819011120007")
    supervisors = [_operator(session, role="supervisor") for _ in range(2)]
    taking.set_own_state(session, supervisors[0], "away")
    taking.set_own_state(session, supervisors[1], "away")
    start = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def take(supervisor_id: int) -> None:
        with app.app_context():
            own = committed_db()
            start.wait()
            try:
                taking.take_this_one(own, supervisor_id, "holding", holder.id)
                outcomes[supervisor_id] = "taken"
            except taking.NotWaiting:
                outcomes[supervisor_id] = "gone"
            finally:
                own.close()

    threads = [threading.Thread(target=take, args=(ident,)) for ident in supervisors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes.values()) == ["gone", "taken"]
    winner = next(ident for ident, outcome in outcomes.items() if outcome == "taken")
    loser = next(ident for ident in supervisors if ident != winner)
    assert fetch(session, Call, holder.id).operator_id == winner
    assert line_services.board().get(loser).state == "away"  # the loser's state is given back


def test_taking_a_party_someone_already_took_says_it_is_no_longer_waiting(line_ctx, network):
    session = line_ctx
    holder = live_holder(session, network, minutes=2, number="+819011120008")
    operator_id = _operator(session)
    taking.set_own_state(session, operator_id, "available")
    supervisor_id = _operator(session, role="supervisor")
    taking.set_own_state(session, supervisor_id, "available")
    with pytest.raises(taking.NotWaiting):
        taking.take_this_one(session, supervisor_id, "holding", holder.id)
    assert line_services.board().get(supervisor_id).state == "available"


def test_a_supervisor_on_a_call_cannot_take_another_caller(line_ctx, network):
    session = line_ctx
    live_holder(session, network, minutes=3, number="+819011120009")
    later = live_holder(session, network, minutes=1, number="+819011120010")
    supervisor_id = _operator(session, role="supervisor")
    taking.set_own_state(session, supervisor_id, "available")  # takes the first holder
    with pytest.raises(taking.StillOnCall):
        taking.take_this_one(session, supervisor_id, "holding", later.id)
    assert fetch(session, Call, later.id).operator_id is None


def test_a_supervisor_s_take_the_network_refuses_leaves_the_caller_waiting_at_their_place(
        line_ctx, network, monkeypatch):
    from madoguchi.telephony.base import TelephonyError
    from madoguchi.telephony.simulated import SimulatedTelephony

    def busy(self, call_sid, url):
        raise TelephonyError(f"redirect of call {call_sid} failed: Twilio error 20429 (HTTP 429)")

    monkeypatch.setattr(SimulatedTelephony, "redirect_call", busy)
    session = line_ctx
    holder = live_holder(session, network, minutes=2, number="+819011120011")
    supervisor_id = _operator(session, role="supervisor")
    taking.set_own_state(session, supervisor_id, "away")
    with pytest.raises(TelephonyError, match="20429"):
        taking.take_this_one(session, supervisor_id, "holding", holder.id)
    row = fetch(session, Call, holder.id)
    assert (row.operator_id, row.ended_at, row.outcome) == (None, None, "queued")
    assert line_services.board().get(supervisor_id).state == "away"
    assert fetch(session, Operator, supervisor_id).state == "away"


def test_a_supervisor_who_logs_out_while_their_take_is_refused_stays_logged_out(
        app, committed_db, line_ctx, network, monkeypatch):
    from madoguchi.telephony.base import TelephonyError
    from madoguchi.telephony.simulated import SimulatedTelephony

    session = line_ctx
    holder = live_holder(session, network, minutes=2, number="+819011120012")
    supervisor_id = _operator(session, role="supervisor")
    taking.set_own_state(session, supervisor_id, "away")

    def logged_out_meanwhile_then_busy(self, call_sid, url):
        own = committed_db()
        try:
            taking.set_own_state(own, supervisor_id, "offline")  # their logout, elsewhere
        finally:
            own.close()
        raise TelephonyError(f"redirect of call {call_sid} failed: Twilio error 20429 (HTTP 429)")

    monkeypatch.setattr(SimulatedTelephony, "redirect_call", logged_out_meanwhile_then_busy)
    with pytest.raises(TelephonyError):
        taking.take_this_one(session, supervisor_id, "holding", holder.id)
    # Not put back to "away" (nor given callers) by the take's undoing: the logout is newer.
    assert line_services.board().get(supervisor_id).state == "offline"
    assert fetch(session, Operator, supervisor_id).state == "offline"
    assert fetch(session, Call, holder.id).operator_id is None
