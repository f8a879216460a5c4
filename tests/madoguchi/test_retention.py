"""Retention: past the configured period personal data leaves old records; statistics stay."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from madoguchi import retention
from madoguchi.cli import main
from madoguchi.models import (
    Call,
    CallbackRequest,
    CallStep,
    Inquiry,
    InquiryEvent,
    utcnow,
)
from madoguchi.telephony.base import AccountRefused, NetworkBusy, TelephonyError
from madoguchi.telephony.network import SimulatedNetwork, SimulatedRecording, new_sid
from madoguchi.telephony.simulated import SimulatedTelephony
from tests import factories

OLD = timedelta(days=400)
RECENT = timedelta(days=10)


def add_call(session, age: timedelta, *, sid: str, outcome: str = "booked", **fields) -> Call:
    """A finished call `age` ago from a mobile, with what the caller keyed and a wrap-up note."""
    started = utcnow() - age
    call = Call(call_sid=sid, from_e164="+819012345678", to_number="+81312345678",
                started_at=started, ended_at=started + timedelta(minutes=3),
                duration_seconds=180, outcome=outcome, status="completed",
                disposition="booked", wrap_notes="山田さん、母の分も予約希望",
                path=[{"at": "2025-01-01T09:00:00", "node": "callback_number",
                       "input": "09012345678"}, {"at": "2025-01-01T09:01:00", "node": "menu"}],
                **fields)
    call.steps = [CallStep(step_key="callback:abc", result={"number": "+819012345678"})]
    session.add(call)
    return call


def add_inquiry(session, age: timedelta, *, reference: str, status: str = "done") -> Inquiry:
    """An inquiry closed `age` ago (or still open), with a contact number and a timeline."""
    at = utcnow() - age
    inquiry = Inquiry(reference=reference, category="garbage", subject="鈴木 一郎 宅前の粗大ごみ",
                      status=status, channel="phone", contact_e164="+819011112222",
                      created_at=at, updated_at=at, closed_at=at if status == "done" else None)
    inquiry.events = [InquiryEvent(kind="note", text="090-1111-2222 に電話済み", at=at)]
    session.add(inquiry)
    return inquiry


def add_callback(session, age: timedelta, *, number: str, status: str = "reached"
                 ) -> CallbackRequest:
    """A callback request last changed `age` ago."""
    at = utcnow() - age
    request = CallbackRequest(phone_e164=number, status=status, arrival_at=at, created_at=at,
                              updated_at=at)
    session.add(request)
    return request


@pytest.fixture
def records(committed_db):
    """Old and recent calls, inquiries and callback requests, committed."""
    with committed_db() as session:
        resident = factories.resident(session, name="高橋 三郎")
        session.flush()
        made = {
            "old_call": add_call(session, OLD, sid="CA-old", resident_id=resident.id),
            "old_outbound": add_call(session, OLD, sid="CA-out", direction="outbound-api",
                                     outcome="callback"),
            "recent_call": add_call(session, RECENT, sid="CA-new"),
            "old_closed": add_inquiry(session, OLD, reference="Q-OLD"),
            "old_open": add_inquiry(session, OLD, reference="Q-OPEN", status="in_progress"),
            "recent_closed": add_inquiry(session, RECENT, reference="Q-NEW"),
            "old_reached": add_callback(session, OLD, number="+819033334444"),
            "old_waiting": add_callback(session, OLD, number="+819055556666", status="waiting"),
        }
        session.commit()
        return {name: item.id for name, item in made.items()}


@pytest.fixture
def network(redis_client) -> SimulatedNetwork:
    """The simulated phone network, keeping the voicemail recordings."""
    return SimulatedNetwork(redis_client)


@pytest.fixture
def run_purge(committed_db, network):
    """Purge what is a year old, with the simulated network deleting recordings."""
    telephony = SimulatedTelephony(network, "+81312345678")

    def run(**options) -> retention.PurgeCounts:
        with committed_db() as session:
            return retention.purge(session, before=retention.cutoff(365), telephony=telephony,
                                   **options)

    return run


def test_an_old_call_loses_the_number_notes_and_keyed_digits_but_keeps_its_statistics(
    committed_db, records, run_purge
):
    counts = run_purge()
    assert counts.calls == 2
    with committed_db() as session:
        call = session.get(Call, records["old_call"])
        assert (call.from_e164, call.wrap_notes, call.resident_id) == (None, None, None)
        assert call.anonymised_at is not None
        assert call.path == [{"at": "2025-01-01T09:00:00", "node": "callback_number"},
                             {"at": "2025-01-01T09:01:00", "node": "menu"}]
        assert session.scalars(select(CallStep.result).where(
            CallStep.call_id == call.id)).all() == [{}]
        assert (call.outcome, call.duration_seconds, call.disposition, call.status) == (
            "booked", 180, "booked", "completed")
        assert call.to_number == "+81312345678"  # the city's own line, not personal
        assert session.get(Call, records["old_outbound"]).to_number is None


def test_recent_records_and_open_cases_are_left_alone(committed_db, records, run_purge):
    run_purge()
    with committed_db() as session:
        assert session.get(Call, records["recent_call"]).from_e164 == "+819012345678"
        assert session.get(Inquiry, records["old_open"]).contact_e164 == "+819011112222"
        assert session.get(Inquiry, records["recent_closed"]).anonymised_at is None
        waiting = session.get(CallbackRequest, records["old_waiting"])
        assert (waiting.phone_e164, waiting.anonymised_at) == ("+819055556666", None)


def test_a_closed_inquiry_loses_contact_subject_and_timeline_text(committed_db, records,
                                                                  run_purge):
    counts = run_purge()
    assert counts.inquiries == 1
    with committed_db() as session:
        inquiry = session.get(Inquiry, records["old_closed"])
        assert (inquiry.contact_e164, inquiry.subject, inquiry.resident_id) == (None, "", None)
        assert (inquiry.category, inquiry.status, inquiry.channel) == ("garbage", "done", "phone")
        assert [event.text for event in inquiry.events] == [""]
        assert inquiry.anonymised_at is not None


def test_a_finished_callback_request_loses_its_number(committed_db, records, run_purge):
    counts = run_purge()
    assert counts.callback_requests == 1
    with committed_db() as session:
        request = session.get(CallbackRequest, records["old_reached"])
        assert (request.phone_e164, request.status) == ("", "reached")
        assert request.anonymised_at is not None
        assert request.updated_at < request.anonymised_at - timedelta(days=300)


def test_the_statistics_add_up_the_same_before_and_after(committed_db, records, run_purge):
    def tallies():
        with committed_db() as session:
            return (
                session.execute(select(Call.outcome, func.count(), func.sum(Call.duration_seconds))
                                .group_by(Call.outcome).order_by(Call.outcome)).all(),
                session.execute(select(Inquiry.category, Inquiry.status, func.count())
                                .group_by(Inquiry.category, Inquiry.status)
                                .order_by(Inquiry.status)).all(),
                session.scalar(select(func.count()).select_from(CallbackRequest)),
            )

    before = tallies()
    run_purge()
    assert tallies() == before


def test_a_second_run_changes_nothing(committed_db, records, run_purge):
    run_purge()
    with committed_db() as session:
        first_mark = session.get(Call, records["old_call"]).anonymised_at
    assert run_purge().total == 0
    with committed_db() as session:
        assert session.get(Call, records["old_call"]).anonymised_at == first_mark


def test_small_batches_reach_every_record(committed_db, run_purge):
    with committed_db() as session:
        for n in range(5):
            add_call(session, OLD, sid=f"CA-batch-{n}")
        session.commit()
    assert run_purge(batch_size=2).calls == 5
    with committed_db() as session:
        assert session.scalar(select(func.count()).where(Call.anonymised_at.is_(None))) == 0


def test_a_dry_run_counts_and_changes_nothing(committed_db, records, run_purge):
    counts = run_purge(dry_run=True)
    assert (counts.calls, counts.inquiries, counts.callback_requests) == (2, 1, 1)
    with committed_db() as session:
        assert session.get(Call, records["old_call"]).from_e164 == "+819012345678"
        assert session.scalar(select(func.count()).where(Call.anonymised_at.is_not(None))) == 0


def test_the_period_must_be_at_least_a_day():
    with pytest.raises(ValueError, match="at least 1"):
        retention.cutoff(0)


def test_the_command_reports_a_dry_run_then_does_the_work(base_env, committed_db, records):
    runner = CliRunner()
    dry = runner.invoke(main, ["purge", "--dry-run"], env=base_env)
    assert dry.exit_code == 0, dry.output
    assert "Would anonymise 4 record(s)" in dry.output
    assert "calls: 2, inquiries: 1, callback requests: 1" in dry.output
    assert "retention_days = 365" in dry.output and "Nothing was changed" in dry.output
    done = runner.invoke(main, ["purge", "--batch-size", "1"], env=base_env)
    assert done.exit_code == 0, done.output
    assert "Anonymised 4 record(s)" in done.output
    again = runner.invoke(main, ["purge"], env=base_env)
    assert "Anonymised 0 record(s)" in again.output


def test_the_daily_job_uses_the_configured_period(app, committed_db, records):
    with app.app_context():
        assert retention.purge_due_records() == 4
        assert retention.purge_due_records() == 0


def add_voicemail(session, network: SimulatedNetwork, age: timedelta, *, reference: str
                  ) -> tuple[Inquiry, SimulatedRecording]:
    """A voicemail case closed `age` ago, its recording still kept by the network."""
    recording = SimulatedRecording(sid=new_sid("RE"), call_sid=new_sid("CA"),
                                   from_number="+819077778888", seconds=12,
                                   created_at=time.time())
    network.keep_recording(recording)
    inquiry = add_inquiry(session, age, reference=reference)
    inquiry.events.append(InquiryEvent(kind="recording", text=recording.url, public=False,
                                       at=utcnow() - age))
    session.commit()
    return inquiry, recording


def test_a_closed_voicemail_case_s_recording_is_deleted_from_the_network_first(
        committed_db, network, run_purge):
    with committed_db() as session:
        case, recording = add_voicemail(session, network, OLD, reference="Q-VM")
        _, recent = add_voicemail(session, network, RECENT, reference="Q-VM-NEW")
    counts = run_purge()
    assert (counts.inquiries, counts.recordings) == (1, 1)
    assert [kept.sid for kept in network.recordings_since(0)] == [recent.sid]
    assert network.recording(recording.sid) is None
    with committed_db() as session:
        assert {event.text for event in session.get(Inquiry, case.id).events} == {""}


@pytest.mark.parametrize("error", [
    NetworkBusy("deleting recording failed: Twilio error 20429 (HTTP 429)"),
    # Credentials refused are the account's, not this recording's: no use asking per case.
    AccountRefused("deleting recording failed: Twilio error 20003 (HTTP 401)"),
], ids=["busy", "account-refused"])
def test_while_the_network_is_busy_cases_with_recordings_wait_whole_for_the_next_run(
        committed_db, network, run_purge, records, monkeypatch, error):
    # Its address is the only way to find the recording again: it goes only once the
    # recording has gone. The other records are anonymised as usual.
    with committed_db() as session:
        case, recording = add_voicemail(session, network, OLD, reference="Q-VM")
        second, _ = add_voicemail(session, network, OLD, reference="Q-VM-2")
    deleting = SimulatedTelephony.delete_recording
    asked: list[str] = []

    def busy(self, recording_url: str) -> bool:
        asked.append(recording_url)
        raise error

    monkeypatch.setattr(SimulatedTelephony, "delete_recording", busy)
    counts = run_purge(batch_size=1)
    assert (counts.inquiries, counts.recordings, counts.cases_held, counts.calls) == (1, 0, 2, 2)
    assert len(asked) == 1  # a busy network is not asked again this run
    with committed_db() as session:
        for held in (case.id, second.id):
            kept = session.get(Inquiry, held)
            assert kept.anonymised_at is None and kept.contact_e164 == "+819011112222"
        assert recording.url in {event.text for event in session.get(Inquiry, case.id).events}
    monkeypatch.setattr(SimulatedTelephony, "delete_recording", deleting)
    again = run_purge()
    assert (again.inquiries, again.recordings, again.cases_held) == (2, 2, 0)
    assert network.recordings_since(0) == []


def test_a_recording_the_network_refuses_to_delete_holds_back_its_case_only(
        committed_db, network, run_purge, monkeypatch):
    with committed_db() as session:
        stuck, refused_recording = add_voicemail(session, network, OLD, reference="Q-VM")
        other, _ = add_voicemail(session, network, OLD, reference="Q-VM-2")
    deleting = SimulatedTelephony.delete_recording

    def refuses_one(self, recording_url: str) -> bool:
        if recording_url == refused_recording.url:
            raise TelephonyError("deleting recording failed: Twilio error 20403 (HTTP 403)")
        return deleting(self, recording_url)

    monkeypatch.setattr(SimulatedTelephony, "delete_recording", refuses_one)
    for _ in range(2):  # run after run, the one case never stops the others
        counts = run_purge(batch_size=1)
        assert counts.cases_held == 1
    with committed_db() as session:
        assert session.get(Inquiry, stuck.id).anonymised_at is None
        assert session.get(Inquiry, other.id).anonymised_at is not None
    assert [kept.sid for kept in network.recordings_since(0)] == [refused_recording.sid]


def test_an_address_the_network_does_not_know_as_ours_is_not_counted_as_deleted(
        committed_db, run_purge):
    with committed_db() as session:
        case = add_inquiry(session, OLD, reference="Q-ELSEWHERE")
        case.events.append(InquiryEvent(kind="recording", public=False, at=utcnow() - OLD,
                                        text="https://elsewhere.example/Recordings/RE1"))
        session.commit()
    counts = run_purge()
    assert (counts.inquiries, counts.recordings, counts.cases_held) == (1, 0, 0)


def test_a_dry_run_counts_the_recordings_it_would_delete_and_deletes_none(
        committed_db, network, run_purge):
    with committed_db() as session:
        add_voicemail(session, network, OLD, reference="Q-VM")
        add_voicemail(session, network, RECENT, reference="Q-VM-NEW")
    counts = run_purge(dry_run=True)
    assert (counts.inquiries, counts.recordings) == (1, 1)
    assert len(network.recordings_since(0)) == 2


def test_a_dry_run_of_the_command_needs_no_phone_network(base_env, records):
    env = {**base_env, "REDIS_URL": ""}  # the simulator's network lives in Redis
    dry = CliRunner().invoke(main, ["purge", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    done = CliRunner().invoke(main, ["purge"], env=env)
    assert done.exit_code == 2
    assert "the phone network is needed to delete recordings" in done.output
    assert "Traceback" not in done.output


def test_no_transaction_is_open_while_the_network_is_asked(committed_db, network):
    # A slow network must not hold the database (SQLite's lock, a PostgreSQL snapshot).
    with committed_db() as session:
        add_voicemail(session, network, OLD, reference="Q-VM")
    open_while_asked: list[bool] = []

    class Watching(SimulatedTelephony):
        def delete_recording(self, recording_url: str) -> bool:
            open_while_asked.append(purging.in_transaction())
            return super().delete_recording(recording_url)

    with committed_db() as purging:
        retention.purge(purging, before=retention.cutoff(365),
                        telephony=Watching(network, "+81312345678"))
    assert open_while_asked == [False]
