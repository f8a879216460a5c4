"""Holding for a person: the Enqueue, the wait loop's honest estimate, leaving for a callback."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from call_queue import holding, line_services, operator_states
from madoguchi.models import Call, CallbackRequest, utcnow
from madoguchi.sealing import blind
from madoguchi.telephony.network import SimulatedNetwork
from tests import factories
from tests.call_queue.conftest import callback_request
from tests.ivr.conftest import BASE, Caller, configure


@pytest.fixture
def busy_line(app, db_session, redis_client):
    """Open around the clock, one operator on duty but on a call: callers must hold."""
    configure(app, hours={"always_open": True})
    operator = factories.operator(db_session)
    db_session.commit()
    with app.app_context():
        operator_states.set_state(db_session, line_services.board(), operator.id, "on_call",
                                  utcnow())
    return operator


@pytest.fixture
def caller(client, redis_client) -> Caller:
    """A caller with a mobile caller ID."""
    return Caller(client)


def _call(session, caller: Caller) -> Call:
    return session.scalar(select(Call).where(Call.call_sid == caller.call_sid))


def _to_line(caller: Caller):
    caller.dial()
    return caller.press("0")


def _wait_ended(caller: Caller, session, result: str, queue_time: int):
    """The caller holds, then their wait ends as Twilio reports it (QueueResult): the answer
    to that Enqueue action, and the place in line they had."""
    action = _to_line(caller).root.find("Enqueue").get("action")
    queued_at = _call(session, caller).queued_at
    return caller.post(action, QueueResult=result, QueueTime=str(queue_time)), queued_at


def _wait(caller: Caller, url: str, queue_time: int):
    return caller.post(url, QueueTime=str(queue_time), QueuePosition="1", CurrentQueueSize="1",
                       AvgQueueTime="0", MaxQueueSize="1000")


def test_a_caller_asking_for_a_person_while_operators_are_busy_is_put_in_line(
        caller, busy_line, db_session):
    doc = _to_line(caller)
    enqueue = doc.root.find("Enqueue")
    assert enqueue is not None and "Dial" not in doc.verbs
    assert enqueue.get("waitUrl").startswith(f"{BASE}/voice/queue/wait")
    assert "/voice/step/queue_done" in enqueue.get("action")
    assert "お待ちください" in doc.text
    call = _call(db_session, caller)
    assert call.queued_at is not None and call.outcome == "queued"


def test_the_wait_loop_says_position_and_a_rounded_range_then_keeps_quiet_until_due(
        caller, busy_line, db_session):
    for minutes in (3, 4, 5):
        callback_request(db_session, minutes=minutes, number=f"+81909999000{minutes}")
    wait_url = _to_line(caller).root.find("Enqueue").get("waitUrl")
    first = _wait(caller, wait_url, 0)
    assert "4番目" in first.text and "分から" in first.text and "分です" in first.text
    assert "折り返し" in first.text and first.gather.get("numDigits") == "1"
    assert first.root.find("Gather/Pause") is not None  # calm pause, keys still heard
    assert "Hangup" not in first.verbs
    interval = service_interval(caller)
    quiet = _wait(caller, _loop_again(first), interval // 2)
    assert quiet.text == "" and quiet.gather is not None
    assert _wait(caller, _loop_again(quiet), interval + 1).text != ""


def _said_range(text: str) -> tuple[int, int]:
    """The (low, high) minutes of the range the line said."""
    found = re.search(r"およそ(\d+)分から(\d+)分です", text)
    assert found, text
    return int(found.group(1)), int(found.group(2))


def test_the_range_starts_above_zero_with_people_ahead_and_narrows_as_they_are_served(
        caller, busy_line, db_session):
    ahead = [callback_request(db_session, minutes=m, number=f"+8190999900{m:02d}")
             for m in (3, 4, 5, 6)]
    wait_url = _to_line(caller).root.find("Enqueue").get("waitUrl")
    interval = service_interval(caller)
    low, high = _said_range(_wait(caller, wait_url, 0).text)
    assert 0 < low < high
    for request in ahead[:3]:  # three of the four ahead were called back meanwhile
        request.status = "reached"
    db_session.commit()
    again = _wait(caller, wait_url, interval + 1).text  # re-estimated at the next announcement
    assert "2番目" in again
    if "分から" in again:
        later_low, later_high = _said_range(again)
        assert later_high - later_low < high - low and later_high < high
    else:
        assert re.search(r"およそ\d+分です", again), again
    for request in ahead[3:]:
        request.status = "reached"
    db_session.commit()
    last = _wait(caller, wait_url, 2 * interval + 2).text
    assert "1番目" in last and "お待ち時間は、およそ5分です" in last  # short: one number


def test_an_english_holder_hears_about_n_minutes_when_the_wait_is_short(
        app, client, busy_line, db_session):
    caller = Caller(client)
    caller.dial()
    caller.press("2")
    doc = caller.press("0")
    wait_url = doc.root.find("Enqueue").get("waitUrl")
    assert "The wait is about 5 minutes." in _wait(caller, wait_url, 0).text


def _loop_again(doc) -> str:
    """Where the wait loop goes when nothing was pressed."""
    return doc.root.find("Redirect").text


def service_interval(caller: Caller) -> int:
    """The configured seconds between announcements."""
    return caller.client.application.config["SETTINGS"].queue.announcement_interval_seconds


def test_a_callback_that_asked_earlier_counts_ahead_of_the_holder(caller, busy_line, db_session):
    callback_request(db_session, minutes=3, number="+819099990000")
    wait_url = _to_line(caller).root.find("Enqueue").get("waitUrl")
    assert "2番目" in _wait(caller, wait_url, 0).text


def test_pressing_one_or_saying_orikaeshi_leaves_the_line_and_other_keys_keep_waiting(
        caller, busy_line):
    wait_url = _to_line(caller).root.find("Enqueue").get("waitUrl")
    loop = _wait(caller, wait_url, 0)
    assert caller.post(loop.next_url, Digits="5").verbs == ["Redirect"]
    _wait(caller, wait_url, 0)
    assert caller.press("1").verbs == ["Leave"]
    _wait(caller, wait_url, 0)
    assert caller.speak("折り返しでお願いします").verbs == ["Leave"]


def test_leaving_for_a_callback_confirms_the_caller_id_keeps_the_place_and_texts_a_mobile(
        caller, busy_line, db_session, redis_client):
    doc, queued_at = _wait_ended(caller, db_session, "leave", 95)
    assert "順番は、そのまま" in doc.text and "0 9 0" in doc.text
    assert "できるだけ早く" in caller.press("1").text  # when to call: as soon as possible
    done = caller.press("1")
    assert done.hung_up
    request = db_session.scalar(select(CallbackRequest).where(
        blind.matches(CallbackRequest.phone_digest, "phone", caller.number)))
    assert request.arrival_at == queued_at and request.status == "waiting"
    [text] = SimulatedNetwork(redis_client).messages(caller.number)
    assert "03-1234-5678" in text.body  # the number that will call them
    db_session.expire_all()
    assert holding.line.waiting_parties(db_session, utcnow())[0].kind == "callback"


def _hang_up(caller: Caller):
    """The call ends: Twilio's status callback."""
    return caller.post(f"{BASE}/voice/status", CallStatus="completed", SequenceNumber="9")


def _place_on_calling_again(client, session, number: str):
    """The place in line a second call from the same number is given."""
    again = Caller(client, call_sid="CA" + "a" * 32, number=number)
    _to_line(again)
    return _call(session, again).queued_at


def _request_for(session, number: str) -> CallbackRequest | None:
    session.expire_all()
    return session.scalar(select(CallbackRequest).where(
        blind.matches(CallbackRequest.phone_digest, "phone", number)))


def test_a_leaver_who_hangs_up_at_the_number_read_back_is_called_back_at_their_place(
        caller, busy_line, db_session, redis_client):
    doc, queued_at = _wait_ended(caller, db_session, "leave", 95)
    assert "順番は、そのまま" in doc.text
    assert _hang_up(caller).status == 204  # told their place is kept, they put the phone down
    request = _request_for(db_session, caller.number)
    assert request is not None and request.arrival_at == queued_at
    assert request.status == "waiting" and request.reason == "unconfirmed"
    [text] = SimulatedNetwork(redis_client).messages(caller.number)
    assert "03-1234-5678" in text.body
    assert holding.line.waiting_parties(db_session, utcnow())[0].kind == "callback"
    _hang_up(caller)  # a repeated status changes nothing
    assert len(SimulatedNetwork(redis_client).messages(caller.number)) == 1


def test_a_leaver_who_hangs_up_at_the_time_question_is_called_back_too(
        caller, busy_line, db_session):
    _wait_ended(caller, db_session, "leave", 95)
    assert "できるだけ早く" in caller.press("1").text  # the number confirmed
    _hang_up(caller)
    assert _request_for(db_session, caller.number).status == "waiting"


def test_a_leaver_who_finished_asking_gets_one_request_and_one_text(
        caller, busy_line, db_session, redis_client):
    _wait_ended(caller, db_session, "leave", 95)
    caller.press("1")
    caller.press("1")
    _hang_up(caller)
    assert db_session.scalar(select(func.count()).select_from(CallbackRequest)) == 1
    assert len(SimulatedNetwork(redis_client).messages(caller.number)) == 1


def test_a_leaver_who_refused_their_caller_id_is_not_called_there_but_keeps_the_place(
        client, busy_line, db_session):
    first = Caller(client, call_sid="CA" + "8" * 32, number="+819055556666")
    _, queued_at = _wait_ended(first, db_session, "leave", 30)
    first.press("2")  # not this number: they start keying another, then hang up
    _hang_up(first)
    assert _request_for(db_session, first.number) is None
    assert _call(db_session, first).outcome == "abandoned"
    assert _place_on_calling_again(client, db_session, first.number) == queued_at


def test_a_holder_whose_wait_failed_and_who_left_a_message_is_not_counted_as_given_up(
        caller, busy_line, db_session):
    _wait_ended(caller, db_session, "error", 3)  # the callback offer
    record = caller.press("2").root.find("Record")
    caller.post(record.get("action"), RecordingUrl="https://api.twilio.com/rec/RE7",
                RecordingDuration="9")
    _hang_up(caller)
    # Their message is their callback: still counted as a holder who took one, not given up.
    assert _call(db_session, caller).outcome == "callback"
    assert _request_for(db_session, caller.number) is None


def test_a_holder_whose_wait_failed_and_who_hung_up_at_the_offer_gets_their_place_back(
        client, busy_line, db_session):
    first = Caller(client, call_sid="CA" + "6" * 32, number="+819055557777")
    _, queued_at = _wait_ended(first, db_session, "queue-full", 3)
    _hang_up(first)  # no callback was asked for: given up, not "callback"
    assert _call(db_session, first).outcome == "abandoned"
    assert _request_for(db_session, first.number) is None
    assert _place_on_calling_again(client, db_session, first.number) == queued_at


def test_a_holder_whose_wait_failed_who_chose_the_callback_and_hung_up_is_called_back(
        caller, busy_line, db_session):
    _, queued_at = _wait_ended(caller, db_session, "error", 3)  # the callback offer
    assert "0 9 0" in caller.press("1").text  # their caller ID read back; they hang up
    _hang_up(caller)
    request = _request_for(db_session, caller.number)
    assert request is not None and request.arrival_at == queued_at
    assert _call(db_session, caller).outcome == "callback"


def test_a_withheld_caller_keys_in_a_number_with_184_and_it_is_read_back(
        client, busy_line, db_session, redis_client):
    caller = Caller(client, call_sid="CA" + "7" * 32, number="anonymous")
    doc, _ = _wait_ended(caller, db_session, "leave", 30)
    assert doc.gather.get("finishOnKey") == "#"
    readback = caller.press("１８４０３１２３４５６７８")
    assert "0 3" in readback.text and "1 2 3 4" in readback.text
    caller.press("1")
    caller.press("1")  # as soon as possible
    assert db_session.scalar(select(CallbackRequest).where(
        blind.matches(CallbackRequest.phone_digest, "phone", "+81312345678"))) is not None
    assert SimulatedNetwork(redis_client).messages("+81312345678") == []  # a landline


@pytest.mark.parametrize("result", ["queue-full", "error", "system-error"])
def test_a_failed_wait_leads_to_a_callback_offer_never_a_hang_up(caller, busy_line, db_session,
                                                                 result):
    doc, _ = _wait_ended(caller, db_session, result, 3)
    assert doc.gather is not None and not doc.hung_up
    assert "折り返し" in doc.text


def test_a_hang_up_is_recorded_as_abandoned_and_calling_back_soon_keeps_the_place(
        client, busy_line, db_session):
    first = Caller(client, call_sid="CA" + "2" * 32, number="+819055556666")
    _wait_ended(first, db_session, "hangup", 40)
    gone = _call(db_session, first)
    assert gone.outcome == "abandoned" and gone.ended_at is not None
    again = Caller(client, call_sid="CA" + "3" * 32, number="+819055556666")
    _to_line(again)
    assert _call(db_session, again).queued_at == gone.queued_at


def test_a_caller_from_long_ago_does_not_get_an_old_place_back(
        client, busy_line, db_session):
    window = client.application.config["SETTINGS"].queue.return_window_minutes
    old = Call(call_sid="CA" + "4" * 32, from_e164="+819077778888", path=[],
               queued_at=utcnow() - timedelta(minutes=window + 30), outcome="abandoned",
               ended_at=utcnow() - timedelta(minutes=window + 5))
    db_session.add(old)
    db_session.commit()
    again = Caller(client, call_sid="CA" + "5" * 32, number="+819077778888")
    _to_line(again)
    assert _call(db_session, again).queued_at > old.queued_at + timedelta(minutes=20)


def test_a_holder_left_with_nobody_on_duty_hears_so_and_no_wait_is_promised(
        app, caller, busy_line, db_session):
    wait_url = _to_line(caller).root.find("Enqueue").get("waitUrl")
    with app.app_context():  # closing time: the last operator logs off
        operator_states.set_state(db_session, line_services.board(), busy_line.id, "offline",
                                  utcnow())
    doc = _wait(caller, wait_url, 0)
    assert "1番目" in doc.text and "電話に出られる係の者が、おりません" in doc.text
    assert "分から" not in doc.text and "まもなく" not in doc.text
    assert "折り返し" in doc.text and not doc.hung_up


def test_with_nobody_on_duty_the_caller_is_offered_a_callback_directly(
        app, caller, db_session, redis_client):
    configure(app, hours={"always_open": True})
    doc = _to_line(caller)
    assert "Enqueue" not in doc.verbs and doc.gather is not None
    assert "折り返し" in doc.text


def test_a_caller_who_chose_a_callback_with_nobody_on_duty_and_hung_up_is_called_back(
        app, caller, db_session, redis_client):
    configure(app, hours={"always_open": True})
    _to_line(caller)  # the callback offer
    assert "0 9 0" in caller.press("1").text
    _hang_up(caller)
    request = _request_for(db_session, caller.number)
    assert request is not None and request.status == "waiting"
    assert _call(db_session, caller).outcome == "callback"


def test_a_caller_who_only_heard_the_callback_offer_and_hung_up_is_not_called(
        app, caller, db_session, redis_client):
    configure(app, hours={"always_open": True})
    _to_line(caller)
    _hang_up(caller)  # chose nothing
    assert _request_for(db_session, caller.number) is None
    assert _call(db_session, caller).outcome == "abandoned"


def test_longer_recent_handle_times_give_a_longer_honest_estimate(db_session):
    now = utcnow()
    holder = Call(call_sid="CA" + "6" * 32, path=[], queued_at=now - timedelta(minutes=1))
    db_session.add(holder)
    db_session.commit()
    quick = holding.standing(db_session, holder, operators_on_duty=1, now=now)
    operator = factories.operator(db_session)
    for n in range(20):
        answered = now - timedelta(hours=2, minutes=n * 3)
        db_session.add(Call(call_sid=f"CAhist{n:02d}", path=[], operator_id=operator.id,
                            queued_at=answered - timedelta(minutes=2), answered_at=answered,
                            ended_at=answered + timedelta(minutes=25)))
    db_session.commit()
    slow = holding.standing(db_session, holder, operators_on_duty=1, now=now)
    assert quick.position == slow.position == 1
    assert slow.estimate.mean_seconds > 3 * quick.estimate.mean_seconds
    assert slow.estimate.high_minutes > quick.estimate.high_minutes
