"""The bridge: a holder taken off hold meets the operator who took them."""

from __future__ import annotations

from call_queue import line_services
from madoguchi.models import Call, Operator
from tests.call_queue.conftest import fetch, free_operator, live_holder, post_signed


def test_the_bridge_dials_the_operators_client_and_marks_the_call_answered(
        line_ctx, network, webhooks):
    session = line_ctx
    holder = live_holder(session, network, minutes=4, number="+819011113333")
    operator_id = free_operator(session)
    body = post_signed(webhooks, f"/voice/queue/bridge?call={holder.id}",
                       CallSid=holder.call_sid).get_data(as_text=True)
    assert f">operator-{operator_id}</Client>" in body and "お待たせいたしました" in body
    assert fetch(session, Call, holder.id).answered_at is not None


def test_after_the_call_the_operator_wraps_up_and_the_caller_hears_goodbye(
        line_ctx, network, webhooks):
    session = line_ctx
    holder = live_holder(session, network, minutes=4, number="+819011113334")
    operator_id = free_operator(session)
    post_signed(webhooks, f"/voice/queue/bridge?call={holder.id}", CallSid=holder.call_sid)
    body = post_signed(webhooks, f"/voice/queue/bridged?call={holder.id}",
                       CallSid=holder.call_sid, DialCallStatus="completed").get_data(
                           as_text=True)
    assert "<Hangup" in body
    assert line_services.board().get(operator_id).state == "wrap_up"
    assert fetch(session, Operator, operator_id).state == "wrap_up"


def test_an_operator_who_does_not_pick_up_is_marked_away_and_the_caller_keeps_the_place(
        line_ctx, network, webhooks):
    session = line_ctx
    holder = live_holder(session, network, minutes=4, number="+819011113335")
    operator_id = free_operator(session)
    place = fetch(session, Call, holder.id).queued_at
    body = post_signed(webhooks, f"/voice/queue/bridged?call={holder.id}",
                       CallSid=holder.call_sid, DialCallStatus="no-answer").get_data(
                           as_text=True)
    assert "<Enqueue" in body and "<Hangup" not in body
    assert line_services.board().get(operator_id).state == "away"
    call = fetch(session, Call, holder.id)
    assert call.queued_at == place and call.operator_id is None and call.answered_at is None


def test_a_holder_who_hangs_up_as_the_operator_takes_them_frees_the_operator_again(
        line_ctx, network, webhooks):
    session = line_ctx
    holder = live_holder(session, network, minutes=4, number="+819011113336")
    operator_id = free_operator(session)
    assert line_services.board().get(operator_id).state == "on_call"
    response = post_signed(webhooks, "/voice/step/queue_done?l=ja", CallSid=holder.call_sid,
                           From="+819011113336", QueueResult="hangup", QueueTime="240")
    assert response.status_code == 200
    call = fetch(session, Call, holder.id)
    assert call.outcome == "abandoned" and call.operator_id is None
    assert line_services.board().get(operator_id).state == "available"
