"""Callbacks for a chosen window in the one fair order, on the real database and Redis."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from call_queue import callback_jobs, line_services, operator_states
from madoguchi.models import Call, CallbackRequest, Inquiry, utcnow
from tests import factories
from tests.call_queue.conftest import callback_request, case_note, fetch, free_operator, live_holder

MOBILE = "+819055556666"


def _idle_operator(session) -> int:
    """An available operator put on the board without dispatching yet."""
    operator = factories.operator(session)
    session.commit()
    operator_states.set_state(session, line_services.board(), operator.id, "available", utcnow())
    return operator.id


def test_a_later_window_is_not_dialled_early_and_then_served_by_its_original_arrival(
        line_ctx, network, redis_client):
    session = line_ctx
    opens = utcnow() + timedelta(hours=1)
    request = callback_request(session, minutes=10, number=MOBILE, window_start=opens,
                               window_end=opens + timedelta(hours=2), next_attempt_at=opens)
    earlier_holder = live_holder(session, network, minutes=5, number="+819011112201")

    first = free_operator(session)  # before the window: the holder who came later goes first
    assert fetch(session, Call, earlier_holder.id).operator_id == first
    second = _idle_operator(session)
    assert line_services.dispatch(session, opens - timedelta(seconds=1)) == []  # idle, not dialling
    waiting = fetch(session, CallbackRequest, request.id)
    assert (waiting.status, waiting.attempts) == ("waiting", 0)

    later_holder = live_holder(session, network, minutes=2, number="+819011112202")
    [assignment] = line_services.dispatch(session, opens + timedelta(minutes=1))
    assert (assignment.operator_id, assignment.party.kind, assignment.party.id) == (
        second, "callback", request.id)
    assert fetch(session, Call, later_holder.id).operator_id is None
    assert fetch(session, CallbackRequest, request.id).status == "dialing"


def test_a_window_that_passes_unreached_is_reported_and_never_dialled_late(
        line_ctx, network, redis_client):
    session = line_ctx
    ended = utcnow() - timedelta(minutes=1)
    request = callback_request(session, minutes=200, number=MOBILE,
                               window_start=ended - timedelta(hours=2), window_end=ended,
                               next_attempt_at=ended - timedelta(hours=2))
    operator_id = _idle_operator(session)

    result = callback_jobs.sweep_line()
    assert (result["missed"], result["assigned"]) == (1, 0)
    assert fetch(session, CallbackRequest, request.id).status == "unreached"
    assert network.ringing_calls() == []
    assert line_services.board().get(operator_id).state == "available"
    case = session.scalar(select(Inquiry).where(Inquiry.category == "callback"))
    session.commit()
    assert case is not None and case.contact_e164 == MOBILE
    assert [sms.to_number for sms in network.messages()] == [MOBILE]
    # Their phone never rang: the text does not say it was called.
    (sms,) = network.messages()
    assert "おかけできませんでした" in sms.body and "つながりませんでした" not in sms.body
    assert "the phone never rang" in case_note(session, case.id)
    assert callback_jobs.sweep_line()["missed"] == 0  # reported once
