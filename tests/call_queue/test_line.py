"""The line's one fair order: holders and callbacks by first arrival, claimed once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from call_queue import line
from madoguchi.models import Call, CallbackRequest
from tests import factories

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=30)


def _holder(session, sid: str, minutes: int) -> Call:
    call = Call(call_sid=sid, queued_at=T0 + timedelta(minutes=minutes), language="ja",
                started_at=T0 + timedelta(minutes=minutes - 1))
    session.add(call)
    session.flush()
    return call


def _callback(session, number: str, minutes: int, **fields) -> CallbackRequest:
    request = CallbackRequest(phone_e164=number, arrival_at=T0 + timedelta(minutes=minutes),
                              language="ja", **fields)
    session.add(request)
    session.flush()
    return request


def test_holders_and_callbacks_are_served_by_original_arrival(db_session):
    first = _holder(db_session, "CA1", 1)
    callback = _callback(db_session, "+819011110001", 2)
    later = _holder(db_session, "CA3", 3)
    db_session.commit()
    order = [(p.kind, p.id) for p in line.waiting_parties(db_session, NOW)]
    assert order == [("holding", first.id), ("callback", callback.id), ("holding", later.id)]
    assert line.ahead_of(db_session, later.queued_at, NOW) == 2


def test_the_next_free_operator_gets_the_earliest_party_and_nobody_gets_it_twice(db_session):
    callback = _callback(db_session, "+819011110002", 1)
    holder = _holder(db_session, "CA4", 2)
    one, two, three = (factories.operator(db_session).id for _ in range(3))
    db_session.commit()
    assert line.claim_next(db_session, operator_id=one, now=NOW).id == callback.id
    db_session.refresh(callback)
    assert callback.status == "dialing"
    taken = line.claim_next(db_session, operator_id=two, now=NOW)
    assert (taken.kind, taken.id) == ("holding", holder.id)
    assert line.claim_next(db_session, operator_id=three, now=NOW) is None


def test_a_callback_for_later_does_not_hold_up_the_line(db_session):
    _callback(db_session, "+819011110003", 1, window_start=NOW + timedelta(hours=2))
    holder = _holder(db_session, "CA5", 5)
    db_session.commit()
    assert [p.id for p in line.waiting_parties(db_session, NOW)] == [holder.id]
    assert line.ahead_of(db_session, holder.queued_at, NOW) == 0


def test_answered_or_ended_calls_are_no_longer_waiting(db_session):
    done = _holder(db_session, "CA6", 1)
    done.ended_at = NOW
    answered = _holder(db_session, "CA7", 2)
    answered.answered_at = NOW
    db_session.commit()
    assert line.waiting_parties(db_session, NOW) == []


def test_a_party_already_claimed_cannot_be_claimed_again(db_session):
    holder = _holder(db_session, "CA8", 1)
    first, second = factories.operator(db_session), factories.operator(db_session)
    db_session.commit()
    (party,) = line.waiting_parties(db_session, NOW)
    assert line.claim(db_session, party, operator_id=first.id, now=NOW)
    assert not line.claim(db_session, party, operator_id=second.id, now=NOW)
    db_session.refresh(holder)
    assert holder.operator_id == first.id
