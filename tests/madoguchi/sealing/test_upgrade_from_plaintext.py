"""A database written by the previous version, in plain text, comes out sealed and searchable.

The schema is migrated to the revision before sealing (0006) and filled the way that version
wrote its rows; `bring_up_to_date` (what `madoguchi db upgrade` and `serve` run) then migrates,
seals, indexes and rewrites the audit rows. Nothing is lost, every lookup works, and the stored
database no longer holds any of it in clear.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, MetaData, insert, select, text
from sqlalchemy.orm import Session

from call_queue import callbacks
from ivr.voicemail import keep_voicemail
from madoguchi import residents
from madoguchi.db import make_engine
from madoguchi.migrate import bring_up_to_date, upgrade
from madoguchi.models import (
    AuditEntry,
    Booking,
    Call,
    CallbackRequest,
    CallStep,
    Inquiry,
    InquiryEvent,
    Operator,
    Resident,
    TextMessage,
)
from madoguchi.sealing import blind, canary, rotation
from madoguchi.sealing.startup import forget_checks
from tests.madoguchi.test_personal_data_scan import Needles, findings, raw_database

SCHEMA = "sealing_upgrade"
MOBILE, LANDLINE, DESK = "+819076543210", "+81312345678", "+819055556666"
RECORDING = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE77"


@pytest.fixture
def old_engine(settings, tmp_path) -> Iterator[Engine]:
    """An empty database of its own: a SQLite file, or a PostgreSQL schema of the test database."""
    url = settings.secrets.database_url
    if url.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path / 'earlier.db'}")
        yield engine
        engine.dispose()
        return
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        connection.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    engine = make_engine(url, connect_args={"connect_timeout": 5,
                                            "options": f"-c search_path={SCHEMA}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.dispose()


def _moment(engine: Engine, value: datetime) -> datetime:
    """A UTC time as the previous version stored it (naive on SQLite)."""
    return value.replace(tzinfo=None) if engine.dialect.name == "sqlite" else value


def write_as_the_previous_version(engine: Engine) -> dict[str, int]:
    """Rows of every kind that held personal data in plain text, through that schema."""
    tables = MetaData()
    tables.reflect(engine)
    now = datetime.now(UTC)
    at = _moment(engine, now)
    t = tables.tables
    with engine.begin() as c:
        desk = c.execute(insert(t["operators"]).values(
            username="desk", display_name="窓口", password_hash="x", role="operator",
            active=True, language="ja", phone_e164=DESK, reach_by="phone", created_at=at,
            state="offline").returning(t["operators"].c.id)).scalar_one()
        suga = c.execute(insert(t["residents"]).values(
            resident_no="7731904", name="須賀 雪乃", name_kana="スガ ユキノ",
            birth_date=date(1951, 9, 23), language="ja", created_at=at, updated_at=at)
            .returning(t["residents"].c.id)).scalar_one()
        taka = c.execute(insert(t["residents"]).values(
            resident_no="7731905", name="高橋 和子", name_kana="タカハシ カズコ",
            birth_date=date(1944, 2, 3), language="ja", created_at=at, updated_at=at)
            .returning(t["residents"].c.id)).scalar_one()
        c.execute(insert(t["resident_phones"]), [
            {"resident_id": suga, "e164": MOBILE, "is_mobile": True},
            {"resident_id": taka, "e164": LANDLINE, "is_mobile": False}])
        campaign = c.execute(insert(t["campaigns"]).values(
            code="R1", name="接種", name_en="Round", active=True, created_at=at)
            .returning(t["campaigns"].c.id)).scalar_one()
        site = c.execute(insert(t["sites"]).values(code="S1", name="会館", name_en="Hall",
                                                   address="").returning(t["sites"].c.id)
                         ).scalar_one()
        slot = c.execute(insert(t["slots"]).values(
            campaign_id=campaign, site_id=site, starts_at=_moment(engine, now + timedelta(
                days=2)), length_minutes=30, capacity=10, booked_count=0, booked_ivr=0,
            booked_operator=0, booked_api=0, overridden_count=0).returning(t["slots"].c.id)
        ).scalar_one()
        c.execute(insert(t["bookings"]).values(
            reference="12345678", slot_id=slot, campaign_id=campaign, resident_id=suga,
            status="cancelled", channel="operator", created_at=at, cancelled_at=at,
            cancel_reason="須賀さんの娘さんから電話", overridden=False))
        call = c.execute(insert(t["calls"]).values(
            call_sid="CA" + "1" * 32, direction="inbound", from_e164=MOBILE,
            to_number="+81312340000", resident_id=suga, status="completed",
            status_sequence=3, outcome="abandoned", path=[{"node": "menu", "input": "0"}],
            started_at=at, queued_at=at, ended_at=at, wrap_notes="須賀さんへ 090-7654-3210")
            .returning(t["calls"].c.id)).scalar_one()
        c.execute(insert(t["call_steps"]), [
            {"call_id": call, "step_key": "memo:callback_number", "at": at,
             "result": {"value": MOBILE}},
            {"call_id": call, "step_key": "memo:birth", "at": at,
             "result": {"date": "1951-09-23", "era": "showa"}}])
        c.execute(insert(t["callback_requests"]).values(
            call_id=call, resident_id=suga, phone_e164=MOBILE, language="ja",
            reason="operator", status="waiting", arrival_at=at, attempts=0, created_at=at,
            updated_at=at))
        case = c.execute(insert(t["inquiries"]).values(
            reference="87654321", resident_id=suga, category="voicemail",
            subject="須賀 雪乃さんの伝言", status="received", channel="ivr",
            contact_e164=MOBILE, created_at=at, updated_at=at).returning(t["inquiries"].c.id)
        ).scalar_one()
        c.execute(insert(t["inquiry_events"]), [
            {"inquiry_id": case, "at": at, "kind": "created", "public": False,
             "text": "スガ ユキノ様 1951年9月23日生"},
            {"inquiry_id": case, "at": at, "kind": "recording", "public": False,
             "text": RECORDING}])
        c.execute(insert(t["audit_log"]), [
            {"at": at, "operator_id": desk, "actor": "desk", "action": "search",
             "entity": "resident", "entity_id": None, "resident_id": None,
             "detail": {"query": "須賀", "results": [suga]}},
            {"at": at, "operator_id": desk, "actor": "desk", "action": "search",
             "entity": "resident", "entity_id": None, "resident_id": None,
             "detail": {"query": "+81******3210", "results": [suga]}},
            {"at": at, "operator_id": desk, "actor": "desk", "action": "send_sms",
             "entity": "resident", "entity_id": str(suga), "resident_id": suga,
             "detail": {"to": "+81******3210", "kind": "text", "body": "須賀様 書類をどうぞ",
                        "booking": None, "sid": "SM" + "2" * 32}}])
    return {"suga": suga, "taka": taka, "desk": desk}


def test_a_plain_database_of_the_previous_version_comes_out_sealed_and_fully_searchable(
        old_engine, sealing_keys):
    upgrade(old_engine, "0006")
    ids = write_as_the_previous_version(old_engine)
    needles = Needles(set(), set())
    needles.add_resident("須賀 雪乃", "スガ ユキノ", date(1951, 9, 23), "7731904", [MOBILE])
    needles.add_resident("高橋 和子", "タカハシ カズコ", date(1944, 2, 3), "7731905", [LANDLINE])
    needles.numbers |= {"819055556666", "09055556666"}  # the operator's own phone
    assert findings(raw_database(old_engine), needles), "the previous version kept plain text"

    # The schema alone does not let anything start on plain data.
    upgrade(old_engine)
    forget_checks()
    with pytest.raises(canary.UnsealedData, match="run: madoguchi db upgrade"):
        canary.verify(old_engine, sealing_keys)

    assert bring_up_to_date(old_engine, sealing_keys) is True
    assert bring_up_to_date(old_engine, sealing_keys) is False, "a second run has nothing to do"
    canary.verify(old_engine, sealing_keys)

    found = findings(raw_database(old_engine), needles)
    assert not found, "left in clear after the upgrade:\n" + "\n".join(found)
    status = rotation.key_status(old_engine, sealing_keys)
    assert status.unsealed == 0 and status.data_pending == 0 and status.index_pending == 0
    assert status.data[0].count > 20 and status.index[0].count > 20

    with Session(old_engine) as session:
        suga = session.get(Resident, ids["suga"])
        assert (suga.name, suga.name_kana, suga.birth_date, suga.resident_no) == (
            "須賀 雪乃", "スガ ユキノ", date(1951, 9, 23), "7731904")
        assert [p.e164 for p in suga.phones] == [MOBILE]
        assert session.get(Operator, ids["desk"]).phone_e164 == DESK
        call = session.scalar(select(Call))
        assert (call.from_e164, call.wrap_notes) == (MOBILE, "須賀さんへ 090-7654-3210")
        steps = {s.step_key: s.result for s in session.scalars(select(CallStep))}
        assert steps == {"memo:callback_number": {"value": MOBILE},
                         "memo:birth": {"date": "1951-09-23", "era": "showa"}}
        assert session.scalar(select(Booking)).cancel_reason == "須賀さんの娘さんから電話"
        case = session.scalar(select(Inquiry))
        assert (case.subject, case.contact_e164) == ("須賀 雪乃さんの伝言", MOBILE)
        assert [e.text for e in case.events] == ["スガ ユキノ様 1951年9月23日生", RECORDING]

        # Every lookup goes through the indexes the upgrade built.
        for typed in ("スガ", "須賀 雪乃", "ゆきの", "7731904", "090-7654-3210", "3210",
                      "1951-09-23"):
            assert [r.id for r in residents.search(session, typed)[0]] == [ids["suga"]], typed
        assert residents.identify(session, "7731905", date(1944, 2, 3)).id == ids["taka"]
        assert [r.id for r in residents.by_phone(session, LANDLINE)] == [ids["taka"]]
        assert callbacks.active_for(session, MOBILE).resident_id == ids["suga"]
        assert session.scalar(select(Call.id).where(
            blind.matches(Call.from_digest, "phone", MOBILE))) == call.id
        again = keep_voicemail(session, recording_url=RECORDING, seconds="9", subject="x",
                               call_sid=None, due_hours=24)
        assert again.id == case.id, "the same recording still opens no second case"

        # The audit log keeps who, what and when, without the words.
        searches = [row.detail for row in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "search").order_by(AuditEntry.id))]
        assert searches == [{"query": "text (2 characters)", "results": [ids["suga"]]},
                            {"query": "+81******3210", "results": [ids["suga"]]}]
        sms = session.scalar(select(AuditEntry).where(AuditEntry.action == "send_sms"))
        assert "body" not in sms.detail and sms.detail["to"] == "+81******3210"
        kept = session.get(TextMessage, sms.detail["message_id"])
        assert (kept.body, kept.resident_id, kept.status) == (
            "須賀様 書類をどうぞ", ids["suga"], "sent")
        assert session.scalar(select(CallbackRequest)).phone_e164 == MOBILE
        assert session.scalar(select(InquiryEvent.recording_digest).where(
            InquiryEvent.kind == "recording")) is not None
    with old_engine.connect() as connection:
        assert connection.execute(text("SELECT state FROM sealing_canary")).scalar() == "sealed"
