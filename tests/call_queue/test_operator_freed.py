"""An operator put through to a caller is freed when the call ends, however its end is heard.

The Dial action, the caller's final status, the operator leg's status and the sweep asking the
network may each come first, come twice, or come late: the operator is freed exactly once, and
never by the end of a call they had already left for someone else.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from call_queue import callback_jobs, ended_calls, line_services, operator_states
from madoguchi.models import Call, CallbackAttempt, CallbackRequest, Operator, utcnow
from madoguchi.telephony import get_telephony
from madoguchi.telephony.base import TelephonyError
from tests import factories
from tests.call_queue.conftest import (
    callback_request,
    fetch,
    free_operator,
    live_holder,
    post_signed,
)


def _put_through(session, network, webhooks, number: str) -> tuple[Call, int]:
    holder = live_holder(session, network, minutes=4, number=number)
    operator_id = free_operator(session)
    body = post_signed(webhooks, f"/voice/queue/bridge?call={holder.id}",
                       CallSid=holder.call_sid).get_data(as_text=True)
    assert f"/voice/queue/leg/status?call={holder.id}" in body  # the leg reports its end
    assert line_services.board().get(operator_id).state == "on_call"
    return holder, operator_id


def _final_status(webhooks, call: Call, number: str, sequence: str = "3"):
    return post_signed(webhooks, "/voice/status", CallSid=call.call_sid, CallStatus="completed",
                       SequenceNumber=sequence, CallDuration="300", From=number,
                       To="+81312345678")


def test_the_callers_final_status_frees_the_operator_into_wrap_up_once(
        line_ctx, network, webhooks):
    session = line_ctx
    holder, operator_id = _put_through(session, network, webhooks, "+819022220001")
    assert _final_status(webhooks, holder, "+819022220001").status_code == 204
    assert line_services.board().get(operator_id).state == "wrap_up"
    assert fetch(session, Operator, operator_id).state == "wrap_up"
    # The Dial action and a repeated status come after: nothing changes, nobody goes back in line.
    body = post_signed(webhooks, f"/voice/queue/bridged?call={holder.id}",
                       CallSid=holder.call_sid, CallStatus="completed",
                       DialCallStatus="completed", DialCallSid="CA" + "1" * 32).get_data(
                           as_text=True)
    assert "<Enqueue" not in body
    _final_status(webhooks, holder, "+819022220001", sequence="4")
    state = line_services.board().get(operator_id)
    assert state.state == "wrap_up" and fetch(session, Call, holder.id).operator_id == operator_id


def test_the_operator_legs_end_frees_the_operator_and_an_unconnected_leg_does_not(
        line_ctx, network, webhooks):
    session = line_ctx
    holder, operator_id = _put_through(session, network, webhooks, "+819022220002")
    post_signed(webhooks, f"/voice/queue/leg/status?call={holder.id}", CallSid="CA" + "2" * 32,
                ParentCallSid=holder.call_sid, CallStatus="no-answer")
    assert line_services.board().get(operator_id).state == "on_call"
    response = post_signed(webhooks, f"/voice/queue/leg/status?call={holder.id}",
                           CallSid="CA" + "2" * 32, ParentCallSid=holder.call_sid,
                           CallStatus="completed")
    assert response.status_code == 204
    assert line_services.board().get(operator_id).state == "wrap_up"


def test_a_caller_gone_during_the_dial_frees_the_operator_and_does_not_rejoin_the_line(
        line_ctx, network, webhooks):
    session = line_ctx
    holder, operator_id = _put_through(session, network, webhooks, "+819022220003")
    # The caller hung up while the operator's phone still rang: Twilio asks the action anyway.
    post_signed(webhooks, f"/voice/queue/bridged?call={holder.id}", CallSid=holder.call_sid,
                CallStatus="completed", DialCallStatus="no-answer",
                DialCallSid="CA" + "3" * 32)
    assert line_services.board().get(operator_id).state == "wrap_up"
    call = fetch(session, Call, holder.id)  # back in line would clear both
    assert call.operator_id == operator_id and call.answered_at is not None


def test_a_late_end_of_an_old_call_leaves_the_operator_on_their_next_call(
        line_ctx, network, webhooks):
    session = line_ctx
    first, operator_id = _put_through(session, network, webhooks, "+819022220004")
    post_signed(webhooks, f"/voice/queue/bridged?call={first.id}", CallSid=first.call_sid,
                DialCallStatus="completed", DialCallSid="CA" + "4" * 32)
    assert line_services.board().get(operator_id).state == "wrap_up"
    line_services.operator_available(session, operator_id)
    second = live_holder(session, network, minutes=1, number="+819022220005")
    line_services.dispatch(session)
    post_signed(webhooks, f"/voice/queue/bridge?call={second.id}", CallSid=second.call_sid)
    assert fetch(session, Call, second.id).operator_id == operator_id
    # The first call's own status and leg status arrive only now.
    _final_status(webhooks, first, "+819022220004")
    post_signed(webhooks, f"/voice/queue/leg/status?call={first.id}", CallSid="CA" + "5" * 32,
                CallStatus="completed")
    assert line_services.board().get(operator_id).state == "on_call"


def test_the_sweep_frees_an_operator_whose_call_the_network_reports_ended(
        line_ctx, network, webhooks):
    session = line_ctx
    holder, operator_id = _put_through(session, network, webhooks, "+819022220006")
    later = utcnow() + timedelta(seconds=ended_calls.GRACE_SECONDS + 1)
    telephony = get_telephony()
    # While the call lasts the sweep leaves the operator alone.
    assert ended_calls.free_operators_of_ended_calls(session, telephony, later) == 0
    assert line_services.board().get(operator_id).state == "on_call"
    # Its end never reached us, but the network knows it.
    network.set_status(holder.call_sid, "completed")
    assert ended_calls.free_operators_of_ended_calls(session, telephony, later) == 1
    assert line_services.board().get(operator_id).state == "wrap_up"
    call = fetch(session, Call, holder.id)
    assert call.ended_at is not None and call.status == "completed"
    assert ended_calls.free_operators_of_ended_calls(session, telephony, later) == 0


def test_the_sweep_frees_an_operator_whose_callback_rang_out_unanswered(line_ctx, network):
    session = line_ctx
    request = callback_request(session, minutes=4, number="+819022220007")
    operator_id = free_operator(session)
    callback_jobs.place_callback(request.id, 1)
    (ringing,) = network.ringing_calls()
    assert line_services.board().get(operator_id).state == "on_call"
    telephony = get_telephony()
    later = utcnow() + timedelta(seconds=ended_calls.GRACE_SECONDS + 1)
    # Still ringing within its timeout: the operator keeps waiting for the resident.
    assert ended_calls.free_operators_of_ended_calls(session, telephony, later) == 0
    # Nobody picked up in time: the network ends the ring as no-answer, as Twilio would.
    ringing.created_at -= ringing.timeout_seconds + 1
    network.save_call(ringing)
    assert ended_calls.free_operators_of_ended_calls(session, telephony, later) == 1
    assert network.get_call(ringing.sid).status == "no-answer"
    assert network.ringing_calls() == []
    assert line_services.board().get(operator_id).state == "available"
    attempt = session.scalars(select(CallbackAttempt)).one()
    session.commit()
    assert attempt.status != "dialing"


def test_a_network_error_quoting_the_callers_number_reaches_the_log_masked(caplog):
    class Unreachable:
        def call_status(self, call_sid):
            raise TelephonyError(f"call {call_sid} to +819012345678 could not be read")

    with caplog.at_level("WARNING", logger="call_queue.ended_calls"):
        assert ended_calls._ended_status(Unreachable(), "CA" + "1" * 32) is None
    logged = caplog.text
    assert "cannot ask the phone network" in logged
    assert "9012345678" not in logged and "5678" in logged


def _left_on_a_call(session, minutes_ago: float) -> int:
    """An operator the board shows on a call that nobody was written down for (the job or
    webhook that claimed them died before writing the party)."""
    operator = factories.operator(session)
    session.commit()
    operator_states.set_state(session, line_services.board(), operator.id, "on_call",
                              utcnow() - timedelta(minutes=minutes_ago))
    return operator.id


def test_the_sweep_frees_an_operator_left_on_a_call_with_nobody_for_the_next_caller(
        line_ctx, network):
    session = line_ctx
    operator_id = _left_on_a_call(session, minutes_ago=3)
    holder = live_holder(session, network, minutes=2, number="+819022220008")
    assert fetch(session, Call, holder.id).operator_id is None  # nobody free to take them
    assert ended_calls.free_operators_of_ended_calls(session, get_telephony(), utcnow()) == 1
    # Available again, and at once given the caller who waited.
    assert fetch(session, Call, holder.id).operator_id == operator_id
    assert line_services.board().get(operator_id).state == "on_call"
    control = network.take_control(holder.call_sid)
    assert control is not None and control.url.endswith(f"/voice/queue/bridge?call={holder.id}")


def test_an_operator_just_claimed_or_on_a_call_is_not_taken_for_left(
        line_ctx, network, webhooks):
    session = line_ctx
    just_claimed = _left_on_a_call(session, minutes_ago=1.5)  # a hand-over may be on its way
    holder, talking = _put_through(session, network, webhooks, "+819022220009")
    now = utcnow()
    for moment in (now, now + timedelta(seconds=ended_calls.LEFT_ON_A_CALL_SECONDS - 91)):
        assert ended_calls.free_operators_of_ended_calls(session, get_telephony(), moment) == 0
    assert line_services.board().get(just_claimed).state == "on_call"
    # A call that lasts keeps its operator however long it lasts; the one with nobody is freed.
    assert ended_calls.free_operators_of_ended_calls(
        session, get_telephony(), now + timedelta(minutes=30)) == 1
    assert line_services.board().get(just_claimed).state == "available"
    assert line_services.board().get(talking).state == "on_call"
    assert fetch(session, Call, holder.id).operator_id == talking


def test_an_operator_left_after_a_callback_they_talked_on_gets_their_wrap_up(
        line_ctx, network, webhooks):
    session = line_ctx
    request = callback_request(session, minutes=4, number="+819022220010")
    operator_id = free_operator(session)
    callback_jobs.place_callback(request.id, 1)
    attempt = session.scalars(select(CallbackAttempt)).one()
    session.commit()
    post_signed(webhooks, f"/voice/callback/answer?attempt={attempt.id}",
                CallSid=attempt.call_sid, AnsweredBy="human")
    # The callback was settled as reached, but whatever was to free the operator died.
    session.execute(update(CallbackRequest).where(CallbackRequest.id == request.id)
                    .values(status="reached", updated_at=utcnow()))
    session.commit()
    later = utcnow() + timedelta(seconds=ended_calls.LEFT_ON_A_CALL_SECONDS + 1)
    network.set_status(attempt.call_sid, "completed")
    assert ended_calls.free_operators_of_ended_calls(session, get_telephony(), later) == 1
    state = line_services.board().get(operator_id)
    assert state.state == "wrap_up" and state.until is not None
    assert fetch(session, Operator, operator_id).state == "wrap_up"


def test_an_operator_whose_state_moved_on_after_it_was_read_is_not_freed(line_ctx, network):
    # The sweep read them on a call with nobody; meanwhile they went offline and were claimed
    # anew (a new since): the stale reading changes nothing.
    session = line_ctx
    operator_id = _left_on_a_call(session, minutes_ago=3)
    read = line_services.board().get(operator_id)
    operator_states.set_state(session, line_services.board(), operator_id, "on_call", utcnow())
    assert not line_services.free_left_on_a_call(session, read, talked=False)
    assert line_services.board().get(operator_id).state == "on_call"
    assert fetch(session, Operator, operator_id).state == "on_call"
    assert line_services.free_left_on_a_call(
        session, line_services.board().get(operator_id), talked=False)
    assert line_services.board().get(operator_id).state == "available"
    assert line_services.board().available_ids(utcnow()) == [operator_id]


def test_an_earlier_call_whose_end_was_never_heard_keeps_them_till_the_network_says_it_ended(
        line_ctx, network, webhooks):
    session = line_ctx
    holder, operator_id = _put_through(session, network, webhooks, "+819022220011")
    # Their talk with that caller ended long ago, but its end never reached us; since then
    # they were claimed for someone nobody wrote down.
    session.execute(update(Call).where(Call.id == holder.id)
                    .values(answered_at=utcnow() - timedelta(minutes=20)))
    session.commit()
    operator_states.set_state(session, line_services.board(), operator_id, "on_call",
                              utcnow() - timedelta(minutes=3))
    # While the network cannot say that call ended, it might be theirs still: they stay.
    assert ended_calls.free_operators_of_ended_calls(session, Unreachable(), utcnow()) == 0
    assert line_services.board().get(operator_id).state == "on_call"
    network.set_status(holder.call_sid, "completed")
    assert ended_calls.free_operators_of_ended_calls(session, get_telephony(), utcnow()) == 1
    assert line_services.board().get(operator_id).state == "available"


def test_a_call_that_lasts_keeps_its_operator_whatever_the_clocks_say(
        line_ctx, network, webhooks):
    # The web host that answered the bridge runs a little behind the worker that claimed the
    # operator: the call they are on looks answered before their claim.
    session = line_ctx
    holder, operator_id = _put_through(session, network, webhooks, "+819022220012")
    since = line_services.board().get(operator_id).since
    session.execute(update(Call).where(Call.id == holder.id)
                    .values(answered_at=since - timedelta(milliseconds=300)))
    session.commit()
    later = utcnow() + timedelta(minutes=3)
    assert ended_calls.free_operators_of_ended_calls(session, get_telephony(), later) == 0
    assert ended_calls.free_operators_of_ended_calls(session, Unreachable(), later) == 0
    assert line_services.board().get(operator_id).state == "on_call"


def test_a_disabled_operator_left_on_a_call_is_taken_off_the_board_and_the_sweep_goes_on(
        line_ctx, network):
    session = line_ctx
    disabled = _left_on_a_call(session, minutes_ago=3)
    other = _left_on_a_call(session, minutes_ago=3)
    session.execute(update(Operator).where(Operator.id == disabled).values(active=False))
    session.commit()
    holder = live_holder(session, network, minutes=2, number="+819022220013")
    assert ended_calls.free_operators_of_ended_calls(session, get_telephony(), utcnow()) == 1
    assert line_services.board().get(disabled).state == "offline"
    assert fetch(session, Call, holder.id).operator_id == other


class Unreachable:
    """A phone network that cannot be asked."""

    def call_status(self, call_sid):
        raise TelephonyError("no answer from the phone network")


def test_a_holder_claimed_but_never_put_through_goes_back_in_line_and_is_put_through(
        line_ctx, network):
    # The process that claimed them died before Twilio took them off hold: they still hear
    # the hold music, and the operator waits for a caller who never comes.
    session = line_ctx
    operator_id = _left_on_a_call(session, minutes_ago=3)
    holder = live_holder(session, network, minutes=6, number="+819022220014")
    session.execute(update(Call).where(Call.id == holder.id).values(operator_id=operator_id))
    session.commit()
    assert ended_calls.free_operators_of_ended_calls(session, get_telephony(), utcnow()) == 1
    control = network.take_control(holder.call_sid)
    assert control is not None and control.url.endswith(f"/voice/queue/bridge?call={holder.id}")
    state = line_services.board().get(operator_id)
    assert state.state == "on_call" and utcnow() - state.since < timedelta(seconds=30)
    assert fetch(session, Call, holder.id).operator_id == operator_id
