"""Signatures, retries, status callbacks and the fallback: the webhooks are safe to expose."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import sessionmaker

from madoguchi.models import Booking, Call, CallbackRequest, CallStep, Inquiry, Slot
from madoguchi.telephony.network import SimulatedNetwork
from tests.ivr.conftest import BASE, Caller, sign
from tests.ivr.test_journeys import BIRTH, RESIDENT_NO, call_of, identify, to_menu

FORM = {"CallSid": "CA" + "9" * 32, "From": "+819012345678", "To": "+81312345678"}


def count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


# ---- signatures --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/voice/incoming", "/voice/step/menu?l=ja&a=0",
                                  "/voice/status", "/voice/fallback",
                                  "/voice/fallback/message"])
def test_an_unsigned_request_is_refused_and_nothing_is_recorded(client, db_session, path):
    response = client.post(path, data={**FORM, "CallStatus": "completed"})
    assert response.status_code == 403
    assert count(db_session, Call) == 0


def test_a_wrongly_signed_request_is_refused_and_nothing_is_recorded(client, db_session):
    bad = sign(f"{BASE}/voice/incoming", FORM).swapcase()
    response = client.post("/voice/incoming", data=FORM, headers={"X-Twilio-Signature": bad})
    assert response.status_code == 403
    assert count(db_session, Call) == 0


def test_a_signature_for_other_form_values_is_refused(client, db_session):
    signature = sign(f"{BASE}/voice/incoming", FORM)
    response = client.post("/voice/incoming", data={**FORM, "From": "+819099999999"},
                           headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_a_signature_for_another_step_url_is_refused(client, db_session):
    signature = sign(f"{BASE}/voice/step/menu?a=0&l=ja", FORM)
    response = client.post("/voice/step/menu?a=1&l=ja", data=FORM,
                           headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403


def test_a_request_signed_for_the_public_url_is_accepted(client, db_session):
    response = client.post("/voice/incoming", data=FORM,
                           headers={"X-Twilio-Signature": sign(f"{BASE}/voice/incoming", FORM)})
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert count(db_session, Call) == 1


@pytest.mark.parametrize("path", ["/voice/step/;", "/voice/step/menu;?l=ja&a=0"])
def test_a_url_with_an_empty_semicolon_parameter_is_checked_as_it_was_called(
        client, db_session, path):
    # The twilio library's validate() drops the empty ";" when it rebuilds the URL.
    signature = sign(f"{BASE}{path}", FORM)
    response = client.post(path, data=FORM, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    refused = client.post(path, data=FORM, headers={"X-Twilio-Signature": signature[::-1]})
    assert refused.status_code == 403


def test_a_request_signed_with_the_default_port_written_out_is_accepted(client, db_session):
    # A proxy in front may pass the address on as https://host:443/…: the exact URL is checked
    # first, then the twilio library's check with and without the port.
    host = BASE.removeprefix("https://")
    signature = sign(f"https://{host}:443/voice/incoming", FORM)
    response = client.post("/voice/incoming", data=FORM, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert count(db_session, Call) == 1
    other_port = sign(f"https://{host}:8443/voice/incoming", FORM)
    refused = client.post("/voice/incoming", data=FORM,
                          headers={"X-Twilio-Signature": other_port})
    assert refused.status_code == 403


# ---- retries -------------------------------------------------------------------------------


def test_a_retried_incoming_webhook_records_the_call_once(caller, db_session):
    caller.dial()
    caller.repeat_last()
    assert count(db_session, Call) == 1


def _booked_places(db_session, slot_id: int) -> int:
    db_session.expire_all()
    return db_session.get(Slot, slot_id).booked_count


def test_a_retried_hold_keeps_one_place(caller, city, db_session):
    to_menu(caller)
    caller.press("1")
    identify(caller)
    first = caller.press("1")
    again = caller.repeat_last()
    assert _booked_places(db_session, city["slots"][0].id) == 1
    assert count(db_session, Booking) == 1
    assert again.text == first.text


def test_a_retried_confirmation_books_and_texts_once(caller, city, db_session, redis_client):
    to_menu(caller)
    caller.press("1")
    identify(caller)
    caller.press("1")
    first = caller.press("1")
    again = caller.repeat_last()
    assert again.text == first.text
    assert count(db_session, Booking) == 1
    assert len(SimulatedNetwork(redis_client).messages(caller.number)) == 1


def test_a_retried_decline_releases_the_place_once(caller, city, db_session):
    to_menu(caller)
    caller.press("1")
    identify(caller)
    caller.press("1")
    caller.press("2")
    caller.repeat_last()
    assert _booked_places(db_session, city["slots"][0].id) == 0


def test_a_retried_cancellation_frees_one_place(caller, city, db_session):
    from madoguchi import booking

    slot = city["slots"][0]
    existing = booking.book(db_session, slot_id=slot.id, resident_id=city["resident"].id,
                            channel="api")
    to_menu(caller)
    caller.press("2")
    caller.press("1")
    caller.press(existing.reference + "#")
    caller.press(BIRTH + "#")
    caller.press("1")
    caller.press("2")
    first = caller.press("1")
    again = caller.repeat_last()
    assert again.text == first.text
    assert _booked_places(db_session, slot.id) == 0


def test_a_retried_move_moves_once(caller, city, db_session):
    from madoguchi import booking

    existing = booking.book(db_session, slot_id=city["slots"][0].id,
                            resident_id=city["resident"].id, channel="api")
    to_menu(caller)
    caller.press("1")
    caller.press(RESIDENT_NO + "#")
    caller.press(BIRTH + "#")
    caller.press("1")
    caller.press("1")
    caller.press("1")  # the first slot offered: the one after the slot already held
    caller.press("1")
    caller.repeat_last()
    db_session.expire_all()
    assert db_session.get(Booking, existing.id).slot_id == city["slots"][1].id
    assert [_booked_places(db_session, s.id) for s in city["slots"][:2]] == [0, 1]


def test_a_retried_callback_request_is_recorded_once(client, closed_line, db_session):
    caller = Caller(client, number="Anonymous")
    to_menu(caller)
    caller.press("4")
    caller.press("1")
    caller.press("0312345678#")
    first = caller.press("1")
    again = caller.repeat_last()
    assert first.hung_up and again.text == first.text
    assert count(db_session, CallbackRequest) == 1


def test_a_retried_voicemail_creates_one_case(caller, closed_line, db_session):
    to_menu(caller)
    caller.press("4")
    caller.press("2")
    url = caller.doc.root.find("Record").get("action")
    first = caller.post(url, RecordingUrl="https://api.twilio.com/rec/RE2", RecordingDuration="3")
    again = caller.repeat_last()
    assert again.text == first.text
    assert count(db_session, Inquiry) == 1


def test_the_birth_date_is_forgotten_once_it_has_served(caller, city, db_session):
    to_menu(caller)
    caller.press("1")
    identify(caller)
    db_session.expire_all()
    keys = set(db_session.scalars(select(CallStep.step_key)))
    assert "memo:birth" not in keys and "memo:resident_no" not in keys


# ---- status callbacks ---------------------------------------------------------------------


def test_a_call_that_ends_mid_way_is_recorded_as_abandoned_with_its_duration(caller, db_session):
    caller.dial()
    caller.post(f"{BASE}/voice/status", CallStatus="completed", SequenceNumber="2",
                CallDuration="47")
    call = call_of(db_session, caller)
    assert (call.status, call.outcome, call.duration_seconds) == ("completed", "abandoned", 47)
    assert call.ended_at is not None


@pytest.mark.parametrize("field", ["SequenceNumber", "CallDuration"])
def test_a_status_with_a_digit_python_cannot_read_is_recorded_without_it(caller, db_session,
                                                                       field):
    caller.dial()
    response = caller.post(f"{BASE}/voice/status", CallStatus="completed",
                           **{field: "²"})
    assert response.status < 300
    call = call_of(db_session, caller)
    assert call.status == "completed"


def test_a_late_status_event_does_not_undo_a_newer_one(caller, db_session):
    caller.dial()
    caller.post(f"{BASE}/voice/status", CallStatus="completed", SequenceNumber="3",
                CallDuration="20")
    caller.post(f"{BASE}/voice/status", CallStatus="in-progress", SequenceNumber="1")
    assert call_of(db_session, caller).status == "completed"


def test_a_finished_call_keeps_its_outcome_when_it_ends(caller, faq, db_session):
    to_menu(caller)
    caller.press("3")
    caller.press("1")
    caller.post(f"{BASE}/voice/status", CallStatus="completed", SequenceNumber="1")
    assert call_of(db_session, caller).outcome == "self_served"


# ---- when things break ---------------------------------------------------------------------


@pytest.fixture
def database_down(app, tmp_path):
    """Every new session fails to connect."""
    broken = create_engine(f"sqlite:///{tmp_path}/missing/dir/db.sqlite")
    app.extensions["madoguchi_db"].session_factory = sessionmaker(bind=broken)


def test_the_fallback_apologises_in_both_languages_and_takes_a_message(client, database_down):
    caller = Caller(client)
    doc = caller.post(f"{BASE}/voice/fallback", ErrorCode="11200")
    assert "システムの不具合" in doc.text and "not working right now" in doc.text
    assert doc.root.find("Record") is not None and not doc.hung_up
    thanks = caller.post(doc.next_url, RecordingUrl="https://api.twilio.com/rec/RE3")
    assert thanks.status == 200 and "折り返し" in thanks.text


def test_a_fallback_message_becomes_a_case_and_a_callback_request(client, db_session):
    caller = Caller(client, number="09012345678")
    doc = caller.post(f"{BASE}/voice/fallback", ErrorCode="11200")
    thanks = caller.post(doc.next_url, RecordingUrl="https://api.twilio.com/rec/RE4")
    caller.repeat_last()
    assert thanks.hung_up
    assert count(db_session, Inquiry) == 1
    db_session.expire_all()
    request = db_session.scalar(select(CallbackRequest))
    assert (request.phone_e164, request.reason) == ("+819012345678", "fallback")


def test_with_the_database_down_the_caller_hears_an_apology_and_goes_to_the_fallback(
    client, database_down
):
    doc = Caller(client).dial()
    assert doc.status == 200
    assert "不具合" in doc.text
    assert doc.root.find("Redirect").text == f"{BASE}/voice/fallback"
    assert not doc.hung_up
