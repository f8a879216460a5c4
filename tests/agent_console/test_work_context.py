"""The work screen tells the operator what they need: a resident's calls however they were
matched, and why a resident waiting for a callback wants it (route, words, a message left)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ivr.flow import SAID_MEMO
from ivr.voicemail import keep_voicemail
from madoguchi import calls
from madoguchi.models import Call, CallbackRequest
from madoguchi.telephony.network import SimulatedNetwork, SimulatedRecording, new_sid
from tests import factories

WORK = "/console/work"


def _call(session, number: str, minutes_ago: int, **fields) -> Call:
    call = Call(call_sid=new_sid("CA"), from_e164=number, language="ja", status="completed",
                started_at=datetime.now(UTC) - timedelta(minutes=minutes_ago), **fields)
    session.add(call)
    session.commit()
    return call


def test_the_screen_pop_lists_calls_from_the_residents_number_never_identified(
        as_operator, db_session):
    resident = factories.resident(db_session, phone="+819055550007")
    someone_else = factories.resident(db_session, phone="+819055550007")
    for minutes in (30, 20, 10):
        _call(db_session, "+819055550007", minutes, outcome="self_served")
    _call(db_session, "+819055550007", 5, resident_id=someone_else.id, outcome="booked")
    _call(db_session, "+819099990000", 3, outcome="self_served")
    _call(db_session, "+819099990000", 2, resident_id=resident.id, outcome="voicemail")
    page = as_operator.get(f"{WORK}?resident={resident.id}").get_data(as_text=True)
    history = re.search(r'<table class="list" id="pop-calls">(.*?)</table>', page, re.S)
    assert history, "the history is not 'none'"
    rows = history.group(1).count("<tr>")
    assert rows == 4, "three from their number, one proven to be them from another number"
    assert "booked" not in history.group(1), "a shared phone's call proven to be someone else's"


def test_a_callback_says_why_the_caller_wants_it(as_operator, db_session):
    call = _call(db_session, "+819012340001", 15, path=[
        {"at": "2026-01-01T00:00:00", "node": "menu"},
        {"at": "2026-01-01T00:00:04", "node": "r_person"},
        {"at": "2026-01-01T00:00:09", "node": "cb_offer"}])
    calls.remember(db_session, call, SAID_MEMO, ["粗大ごみの出し方を教えて"])
    db_session.add(CallbackRequest(call_id=call.id, phone_e164="+819012340001",
                                   reason="operator", status="waiting",
                                   arrival_at=datetime.now(UTC) - timedelta(minutes=15)))
    db_session.commit()
    page = as_operator.get(WORK).get_data(as_text=True)
    row = re.search(r'<tr data-callback=.*?</tr>', page, re.S).group(0)
    assert "係の者との話を希望" in row
    assert "menu › r_person › cb_offer" in row
    assert "「粗大ごみの出し方を教えて」" in row


def test_a_callback_from_the_fallback_plays_the_message_left(as_operator, db_session,
                                                             redis_client):
    recording = SimulatedRecording(new_sid("RE"), new_sid("CA"), "+819012340002", 6,
                                   datetime.now(UTC).timestamp())
    SimulatedNetwork(redis_client).keep_recording(recording)
    case = keep_voicemail(db_session, recording_url=recording.url, seconds="6", subject="伝言",
                          call_sid=recording.call_sid, contact_e164="+819012340002",
                          due_hours=24)
    event = next(e for e in case.events if e.kind == "recording")
    db_session.add(CallbackRequest(phone_e164="+819012340002", reason="fallback",
                                   status="waiting", arrival_at=datetime.now(UTC)))
    db_session.commit()
    page = as_operator.get(WORK).get_data(as_text=True)
    row = re.search(r'<tr data-callback=.*?</tr>', page, re.S).group(0)
    assert "システム障害中に伝言を残した" in row
    source = f"/console/inquiries/{case.id}/recordings/{event.id}"
    assert f'class="callback-message" src="{source}"' in row
    assert as_operator.get(source).status_code == 200
