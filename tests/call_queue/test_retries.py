"""Twilio retries and duplicate status callbacks change state once, for every line webhook.

One table: for each side-effecting webhook of the line, a situation, the request Twilio sends,
and the request sent again (a retry after a timeout, or a duplicated status callback). The whole
database and the operator board are compared before and after the second request: nothing may
change; and the retry is answered exactly as the first request was (the caller hears the same).
The phone menu's own retries (booking, cancelling, moving, callback requests, call status) are
in tests/ivr/test_webhook_safety.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from call_queue import line_services, operator_states
from madoguchi.models import (
    Base,
    Booking,
    CallbackAttempt,
    Operator,
    ReminderSent,
    utcnow,
)
from tests import factories
from tests.call_queue.conftest import callback_request, fetch, live_holder, post_signed

MOBILE = "+819011112222"


@dataclass(frozen=True)
class Retried:
    """A webhook request as Twilio sends it: the path with its query, and the form fields."""

    path: str
    fields: dict[str, str]


def _snapshot(session) -> dict:
    """Every row of every table, and every operator's state on the board."""
    rows = {}
    for table in Base.metadata.sorted_tables:
        rows[table.name] = sorted(
            (tuple(str(value) for value in row) for row in session.execute(select(table))),
        )
    operators = session.scalars(select(Operator.id)).all()
    session.commit()
    board = line_services.board()
    rows["board"] = sorted((i, str(board.get(i))) for i in operators)
    return rows


def _attempt(session, *, answered: bool = False) -> CallbackAttempt:
    request = callback_request(session, minutes=3, number=MOBILE)
    operator = factories.operator(session)
    session.commit()
    operator_states.set_state(session, line_services.board(), operator.id, "on_call", utcnow())
    request.status, request.attempts, request.operator_id = "dialing", 1, operator.id
    attempt = CallbackAttempt(request_id=request.id, attempt_no=1, started_at=utcnow(),
                              status="answered" if answered else "dialing",
                              call_sid="CA" + "7" * 32)
    session.add(attempt)
    session.commit()
    return attempt


def callback_unanswered(session, network) -> Retried:
    """The final status of a callback nobody answered (back in line, operator freed)."""
    attempt = _attempt(session)
    return Retried(f"/voice/callback/status?attempt={attempt.id}",
                   {"CallSid": attempt.call_sid, "CallStatus": "no-answer"})


def callback_completed(session, network) -> Retried:
    """The final status of a callback that reached the resident (operator to wrap-up)."""
    attempt = _attempt(session, answered=True)
    return Retried(f"/voice/callback/status?attempt={attempt.id}",
                   {"CallSid": attempt.call_sid, "CallStatus": "completed"})


def callback_answered(session, network) -> Retried:
    """The resident picks up our callback."""
    attempt = _attempt(session)
    return Retried(f"/voice/callback/answer?attempt={attempt.id}",
                   {"CallSid": attempt.call_sid, "AnsweredBy": "human"})


def callback_operator_missed(session, network) -> Retried:
    """The operator did not take the callback they were given (away; the resident retried)."""
    attempt = _attempt(session, answered=True)
    return Retried(f"/voice/callback/bridged?attempt={attempt.id}",
                   {"CallSid": attempt.call_sid, "DialCallStatus": "no-answer"})


def _holder_with_operator(session, network):
    call = live_holder(session, network, minutes=2, number=MOBILE)
    operator = factories.operator(session)
    session.commit()
    operator_states.set_state(session, line_services.board(), operator.id, "on_call", utcnow())
    call.operator_id = operator.id
    session.commit()
    return call


def holder_put_through(session, network) -> Retried:
    """A holder taken off hold is put through to the operator who took them."""
    call = _holder_with_operator(session, network)
    return Retried(f"/voice/queue/bridge?call={call.id}", {"CallSid": call.call_sid})


def holder_operator_done(session, network) -> Retried:
    """The operator's conversation with a holder ended (operator to wrap-up)."""
    call = _holder_with_operator(session, network)
    return Retried(f"/voice/queue/bridged?call={call.id}",
                   {"CallSid": call.call_sid, "DialCallStatus": "completed",
                    "DialCallSid": "CA" + "6" * 32})


def holder_operator_missed(session, network) -> Retried:
    """The operator missed a holder: operator away, the holder back at the same place."""
    call = _holder_with_operator(session, network)
    return Retried(f"/voice/queue/bridged?call={call.id}",
                   {"CallSid": call.call_sid, "DialCallStatus": "no-answer",
                    "DialCallSid": "CA" + "6" * 32})


def holder_hung_up(session, network) -> Retried:
    """A holder hung up in the line (the Enqueue action says so)."""
    call = live_holder(session, network, minutes=2, number=MOBILE)
    return Retried("/voice/step/queue_done?l=ja",
                   {"CallSid": call.call_sid, "From": MOBILE, "QueueResult": "hangup",
                    "QueueTime": "95"})


def _reminder(session) -> ReminderSent:
    campaign = factories.campaign(session)
    site = factories.site(session)
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    slot = factories.slot(session, campaign_id=campaign.id, site_id=site.id, starts_at=starts,
                          booked_count=1)
    resident = factories.resident(session, phone="+81312349876")
    kept = Booking(reference=f"9{slot.id:06d}", slot_id=slot.id, campaign_id=campaign.id,
                   resident_id=resident.id, status="confirmed", channel="ivr")
    session.add(kept)
    session.flush()
    entry = ReminderSent(booking_id=kept.id, kind="day_before", channel="call",
                         status="calling", call_sid="CA" + "8" * 32)
    session.add(entry)
    session.commit()
    return entry


def reminder_cancel(session, network) -> Retried:
    """The resident presses 9 on the reminder call to cancel."""
    entry = _reminder(session)
    return Retried(f"/voice/reminder/choice?reminder={entry.id}",
                   {"CallSid": entry.call_sid, "Digits": "9"})


def reminder_unanswered(session, network) -> Retried:
    """The final status of a reminder call nobody answered."""
    entry = _reminder(session)
    return Retried(f"/voice/reminder/status?reminder={entry.id}",
                   {"CallSid": entry.call_sid, "CallStatus": "no-answer"})


def fallback_message(session, network) -> Retried:
    """A message left on the fallback while the app was failing (a case and a callback)."""
    return Retried("/voice/fallback/message",
                   {"CallSid": "CA" + "9" * 32, "From": MOBILE, "RecordingDuration": "14",
                    "RecordingUrl": "https://api.twilio.com/2010-04-01/Recordings/RE1"})


WEBHOOKS: list[Callable] = [
    callback_unanswered, callback_completed, callback_answered, callback_operator_missed,
    holder_put_through, holder_operator_done, holder_operator_missed, holder_hung_up,
    reminder_cancel, reminder_unanswered, fallback_message,
]


@pytest.mark.parametrize("situation", WEBHOOKS, ids=[f.__name__ for f in WEBHOOKS])
def test_a_repeated_line_webhook_changes_nothing_and_answers_as_the_first_did(
        situation, line_ctx, network, webhooks):
    session = line_ctx
    retried = situation(session, network)
    first = post_signed(webhooks, retried.path, **retried.fields)
    assert first.status_code in (200, 204), first.get_data(as_text=True)
    after_first = _snapshot(session)
    again = post_signed(webhooks, retried.path, **retried.fields)
    assert again.get_data(as_text=True) == first.get_data(as_text=True)
    assert _snapshot(session) == after_first


def test_status_callbacks_in_reverse_order_close_a_callback_attempt_once(
        line_ctx, network, webhooks):
    session = line_ctx
    attempt = _attempt(session, answered=True)
    path = f"/voice/callback/status?attempt={attempt.id}"
    post_signed(webhooks, path, CallSid=attempt.call_sid, CallStatus="completed")
    after = _snapshot(session)
    for late in ("in-progress", "ringing", "no-answer", "busy", "completed"):
        post_signed(webhooks, path, CallSid=attempt.call_sid, CallStatus=late)
    assert _snapshot(session) == after
    assert fetch(session, CallbackAttempt, attempt.id).status == "completed"
