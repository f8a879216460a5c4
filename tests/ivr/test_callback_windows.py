"""After confirming the number, a caller chooses when to be called back and hears who will call."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from sqlalchemy import select

from madoguchi.models import CallbackRequest
from madoguchi.telephony.network import SimulatedNetwork
from tests.ivr.conftest import Caller
from tests.ivr.test_journeys import call_of, to_menu

TOMORROW_MORNING = re.compile(r"明日の午前9時から11時の間、をご希望の方は、(\d)を押してください")


def _to_window_question(caller: Caller):
    to_menu(caller)
    caller.press("4")  # a person: the fallback number does not answer
    caller.post(caller.doc.next_url, DialCallStatus="no-answer")
    caller.press("1")  # a callback
    assert "0 9 0" in caller.doc.text  # the caller ID read back
    return caller.press("1")


def _request(db_session) -> CallbackRequest:
    db_session.expire_all()
    return db_session.scalar(select(CallbackRequest))


def test_a_caller_chooses_tomorrow_morning_and_hears_it_back_with_the_calling_number(
        caller, open_line, db_session, app):
    question = _to_window_question(caller)
    assert "お電話する時間を、お選びください" in question.text
    assert "できるだけ早く、をご希望の方は、1を押してください" in question.text
    assert "何も押されない場合は、できるだけ早く" in question.text
    assert "9を押してください" in question.text  # the repeat key is offered too
    key = TOMORROW_MORNING.search(question.text).group(1)
    done = caller.press(key)
    assert done.hung_up
    assert "明日の午前9時から11時の間に" in done.text
    assert "お電話は、0 3 1 2 3 4 5 6 7 8、からおかけします" in " ".join(done.text.split())
    request = _request(db_session)
    tz = app.config["SETTINGS"].tz
    tomorrow = (datetime.now(tz) + timedelta(days=1)).date()
    assert request.window_start == datetime.combine(tomorrow, time(9), tz)
    assert request.window_end == datetime.combine(tomorrow, time(11), tz)
    assert request.next_attempt_at == request.window_start
    assert call_of(db_session, caller).outcome == "callback"


def test_the_text_to_a_mobile_names_the_chosen_date_and_hours(
        caller, open_line, db_session, app, redis_client):
    question = _to_window_question(caller)
    caller.press(TOMORROW_MORNING.search(question.text).group(1))
    tomorrow = (datetime.now(app.config["SETTINGS"].tz) + timedelta(days=1)).date()
    texts = SimulatedNetwork(redis_client).messages(caller.number)
    assert len(texts) == 1
    assert f"{tomorrow.month}月{tomorrow.day}日の09:00から11:00の間に" in texts[0].body
    assert "順番に" not in texts[0].body


def test_as_soon_as_possible_leaves_the_request_without_a_window(caller, open_line, db_session):
    _to_window_question(caller)
    done = caller.press("1")
    assert done.hung_up and "順番に" in done.text and "からおかけします" in done.text
    request = _request(db_session)
    assert (request.window_start, request.window_end) == (None, None)


def test_silence_at_the_time_question_means_as_soon_as_possible(caller, open_line, db_session):
    _to_window_question(caller)
    done = caller.wait()
    assert done.hung_up and "順番に" in done.text
    assert _request(db_session).window_start is None


def test_wrong_keys_at_the_time_question_end_as_soon_as_possible_not_in_a_loop(
        caller, open_line, db_session):
    _to_window_question(caller)
    again = caller.press("7")
    assert again.gather is not None and "1を押してください" in again.text
    caller.press("7")
    done = caller.press("7")
    assert done.hung_up
    assert _request(db_session).window_start is None


def test_the_operator_key_still_reaches_a_person_from_the_time_question(
        caller, open_line, db_session):
    _to_window_question(caller)
    doc = caller.press("0")
    assert "Dial" in doc.verbs
    assert _request(db_session) is None


def test_an_english_caller_hears_the_windows_in_plain_english(client, open_line, db_session):
    caller = Caller(client)
    caller.dial()
    caller.press("2")  # English
    caller.press("4")
    caller.post(caller.doc.next_url, DialCallStatus="no-answer")
    caller.press("1")
    question = caller.press("1")
    assert "To be called as soon as possible, press 1." in question.text
    assert re.search(r"To be called tomorrow morning between 9 and 11, press \d\.", question.text)
    done = caller.press("1")
    assert "The call will come from the number 0 3 1 2 3 4 5 6 7 8." in " ".join(
        done.text.split())
