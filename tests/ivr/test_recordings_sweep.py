"""Messages left on the fallback while the database was down become cases once it is back:
each recording the network keeps opens one voicemail case, due on time, with a callback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from ivr.recordings_sweep import SETTLE_SECONDS, collect_recordings
from ivr.voicemail import keep_voicemail
from madoguchi.models import CallbackRequest, Inquiry
from madoguchi.telephony.base import TelephonyError
from madoguchi.telephony.network import SimulatedNetwork, SimulatedRecording, new_sid
from madoguchi.telephony.simulated import SimulatedTelephony

RESIDENT = "+819012345678"
LINE = "+81312345678"  # the city's number in the test settings


def left_message(network: SimulatedNetwork, *, minutes_ago: float, caller: str = RESIDENT,
                 line: str = LINE) -> SimulatedRecording:
    """A message the carrier kept (the fallback's Record) some minutes ago."""
    recording = SimulatedRecording(
        new_sid("RE"), new_sid("CA"), caller, 15,
        (datetime.now(UTC) - timedelta(minutes=minutes_ago)).timestamp(), to_number=line)
    network.keep_recording(recording)
    return recording


def test_a_kept_message_becomes_one_due_voicemail_case_and_a_callback(db_session, settings,
                                                                      redis_client):
    network = SimulatedNetwork(redis_client)
    telephony = SimulatedTelephony(network, "+81312345678")
    recording = left_message(network, minutes_ago=30)
    now = datetime.now(UTC)
    assert collect_recordings(db_session, telephony, settings, now) == 1
    case = db_session.scalar(select(Inquiry))
    assert case.category == "voicemail" and case.contact_e164 == RESIDENT
    assert case.call_sid == recording.call_sid
    hours = settings.inquiries.voicemail_due_hours
    assert abs(case.due_at - (now + timedelta(hours=hours))) < timedelta(minutes=1)
    assert [e.text for e in case.events if e.kind == "recording"] == [recording.url]
    (callback,) = db_session.scalars(select(CallbackRequest))
    assert (callback.phone_e164, callback.reason) == (RESIDENT, "fallback")
    assert collect_recordings(db_session, telephony, settings, now) == 0, "exactly once"
    assert len(db_session.scalars(select(Inquiry)).all()) == 1


def test_a_message_the_webhook_kept_and_one_too_young_are_left_alone(db_session, settings,
                                                                      redis_client):
    network = SimulatedNetwork(redis_client)
    telephony = SimulatedTelephony(network, "+81312345678")
    kept = left_message(network, minutes_ago=20)
    keep_voicemail(db_session, recording_url=kept.url, seconds="15", subject="留守番電話",
                   call_sid=kept.call_sid, due_hours=24)
    left_message(network, minutes_ago=SETTLE_SECONDS / 120)
    assert collect_recordings(db_session, telephony, settings) == 0
    assert len(db_session.scalars(select(Inquiry)).all()) == 1


def test_messages_older_than_the_look_back_are_not_collected(db_session, settings, redis_client):
    network = SimulatedNetwork(redis_client)
    hours = settings.inquiries.recordings_lookback_hours
    left_message(network, minutes_ago=hours * 60 + 5)
    telephony = SimulatedTelephony(network, "+81312345678")
    assert collect_recordings(db_session, telephony, settings) == 0


def test_a_message_left_on_another_number_of_the_account_is_not_the_citys_case(
        db_session, settings, redis_client):
    network = SimulatedNetwork(redis_client)
    telephony = SimulatedTelephony(network, LINE)
    left_message(network, minutes_ago=30, line="+81355550000")
    assert collect_recordings(db_session, telephony, settings) == 0
    assert db_session.scalars(select(Inquiry)).all() == []


def test_a_message_whose_call_cannot_be_read_waits_for_the_next_run(
        db_session, settings, redis_client, monkeypatch):
    network = SimulatedNetwork(redis_client)
    telephony = SimulatedTelephony(network, LINE)
    left_message(network, minutes_ago=30)

    def unreachable(_call_sid):
        raise TelephonyError("the network is away")

    monkeypatch.setattr(telephony, "parties_of", unreachable)
    assert collect_recordings(db_session, telephony, settings) == 0
    monkeypatch.undo()
    assert collect_recordings(db_session, telephony, settings) == 1
