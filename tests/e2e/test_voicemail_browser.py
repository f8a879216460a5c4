"""A voicemail case in a real browser: the operator presses play and hears the message, fetched
through Madoguchi from the (simulated) phone network with the operator's session."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from ivr.voicemail import keep_voicemail
from madoguchi.models import AuditEntry
from madoguchi.telephony.network import SimulatedNetwork, SimulatedRecording, new_sid
from tests.e2e.conftest import log_in
from tests.e2e.test_console_browser import LANDING, city  # noqa: F401 (city is a fixture)

SECONDS = 3


def test_an_operator_plays_a_voicemail_from_its_case(page, city, committed_db, redis_client,  # noqa: F811
                                                     screenshot):
    recording = SimulatedRecording(new_sid("RE"), new_sid("CA"), "+819012345678", SECONDS,
                                   datetime.now(UTC).timestamp())
    SimulatedNetwork(redis_client).keep_recording(recording)
    with committed_db() as session:
        case = keep_voicemail(session, recording_url=recording.url, seconds=str(SECONDS),
                              subject="留守番電話の伝言", call_sid=recording.call_sid, due_hours=24)
        case_id, reference = case.id, case.reference
    log_in(page, "yamada", lands_on=LANDING)
    page.goto(f"/console/inquiries/{case_id}")
    player = page.locator("audio.voicemail")
    assert "sim.madoguchi.invalid" not in page.content()
    player.evaluate("audio => { audio.muted = true; return audio.play(); }")
    page.wait_for_function(
        "() => { const a = document.querySelector('audio.voicemail');"
        " return a.currentTime > 0.5 && !a.paused; }")
    duration = player.evaluate("audio => audio.duration")
    assert abs(duration - SECONDS) < 0.1
    screenshot(page, "voicemail-case")
    with committed_db() as session:
        assert session.scalar(select(AuditEntry).where(
            AuditEntry.action == "listen", AuditEntry.entity_id == reference)) is not None
