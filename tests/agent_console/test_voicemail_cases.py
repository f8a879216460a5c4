"""A voicemail case at the console: its recording plays through Madoguchi, audited, behind the
operator's session, and the network's own address never reaches the page."""

from __future__ import annotations

import io
import wave
from datetime import UTC, datetime

from sqlalchemy import select

from ivr.voicemail import keep_voicemail
from madoguchi.models import AuditEntry, InquiryEvent
from madoguchi.telephony.network import SimulatedNetwork, SimulatedRecording, new_sid


def voicemail(db_session, redis_client, seconds: int = 4):
    """A message the simulated network kept, and the case the line opened for it."""
    recording = SimulatedRecording(new_sid("RE"), new_sid("CA"), "+819012345678", seconds,
                                   datetime.now(UTC).timestamp())
    SimulatedNetwork(redis_client).keep_recording(recording)
    case = keep_voicemail(db_session, recording_url=recording.url, seconds=str(seconds),
                          subject="留守番電話", call_sid=recording.call_sid, due_hours=24)
    event = next(e for e in case.events if e.kind == "recording")
    return case, event, recording


def test_the_case_page_plays_the_recording_through_the_console(as_operator, db_session,
                                                              redis_client):
    case, event, recording = voicemail(db_session, redis_client)
    page = as_operator.get(f"/console/inquiries/{case.id}").get_data(as_text=True)
    source = f"/console/inquiries/{case.id}/recordings/{event.id}"
    assert f'<audio controls preload="none" class="voicemail" src="{source}"' in page
    assert recording.url not in page and "sim.madoguchi.invalid" not in page
    assert "期限" in page, "a voicemail case shows when it is due"
    response = as_operator.get(source)
    assert response.status_code == 200 and response.mimetype == "audio/wav"
    assert "no-store" in response.headers["Cache-Control"]
    with wave.open(io.BytesIO(response.data)) as sound:
        assert sound.getnframes() == sound.getframerate() * 4
    listened = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "listen"))
    assert (listened.entity, listened.entity_id) == ("inquiry", case.reference)


def test_a_browser_can_seek_in_the_recording(as_operator, db_session, redis_client):
    case, event, _ = voicemail(db_session, redis_client)
    part = as_operator.get(f"/console/inquiries/{case.id}/recordings/{event.id}",
                           headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.data) == 100


def test_without_a_session_the_recording_is_not_served(client, db_session, redis_client):
    case, event, _ = voicemail(db_session, redis_client)
    response = client.get(f"/console/inquiries/{case.id}/recordings/{event.id}")
    assert response.status_code in (302, 401)
    assert not response.data.startswith(b"RIFF")


def test_a_recording_of_another_case_or_a_gone_one_is_not_found(as_operator, db_session,
                                                                redis_client):
    case, event, _ = voicemail(db_session, redis_client)
    other, _, _ = voicemail(db_session, redis_client)
    assert as_operator.get(f"/console/inquiries/{other.id}/recordings/{event.id}"
                           ).status_code == 404
    note = db_session.scalar(select(InquiryEvent).where(
        InquiryEvent.inquiry_id == case.id, InquiryEvent.kind == "created"))
    assert as_operator.get(f"/console/inquiries/{case.id}/recordings/{note.id}"
                           ).status_code == 404
    redis_client.flushdb()  # the carrier no longer keeps it
    assert as_operator.get(f"/console/inquiries/{case.id}/recordings/{event.id}"
                           ).status_code == 404
