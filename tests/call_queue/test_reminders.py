"""Reminders the day before: a text to mobiles, a call (1 keeps, 5 then 1 cancels), never twice."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from call_queue import line_services, reminder_answers, reminder_texts, reminders
from call_queue.pacing import OutboundPacer
from madoguchi.models import Booking, ReminderSent, Resident
from tests import factories
from tests.call_queue.conftest import fetch, post_signed

MOBILE, LANDLINE = "+819012121212", "+81312121212"


@pytest.fixture
def tomorrow(line_ctx):
    """Noon today (city time), and confirmed bookings for tomorrow and later."""
    session = line_ctx
    settings = line_services.settings()
    today = datetime.now(settings.tz).date()
    noon = datetime.combine(today, time(12, 0), settings.tz)
    campaign, site = factories.campaign(session), factories.site(session)

    def booking_at(day_offset: int, number: str, status: str = "confirmed") -> int:
        starts = datetime.combine(today + timedelta(days=day_offset), time(10, 0), settings.tz)
        starts += timedelta(minutes=30 * len(ids))  # one slot each
        slot = factories.slot(session, campaign_id=campaign.id, site_id=site.id,
                              starts_at=starts, booked_count=1)
        resident = factories.resident(session, phone=number)
        row = Booking(reference=f"9{slot.id:06d}", slot_id=slot.id, campaign_id=campaign.id,
                      resident_id=resident.id, status=status, channel="ivr")
        session.add(row)
        session.commit()
        return row.id

    ids: dict[str, int] = {}
    ids["mobile"] = booking_at(1, MOBILE)
    ids["landline"] = booking_at(1, LANDLINE)
    ids["later"] = booking_at(2, "+819034343434")
    ids["cancelled"] = booking_at(1, "+819056565656", status="cancelled")
    return noon, ids


def _send(session, booking_id: int, now: datetime):
    settings = line_services.settings()
    return reminders.send_reminder(
        session, booking_id, settings=settings, telephony=line_services.get_telephony(),
        pacer=OutboundPacer(line_services.board().redis, 100.0),
        sms_text=lambda booking: reminder_texts.sms_text(settings, booking), now=now)


def test_only_confirmed_bookings_starting_tomorrow_are_due(line_ctx, tomorrow):
    now, ids = tomorrow
    due = reminders.due_booking_ids(line_ctx, line_services.settings(), now)
    assert sorted(due) == sorted([ids["mobile"], ids["landline"]])


def test_a_mobile_gets_one_text_however_often_the_job_runs(line_ctx, tomorrow, network):
    now, ids = tomorrow
    assert _send(line_ctx, ids["mobile"], now).channel == "sms"
    assert _send(line_ctx, ids["mobile"], now) is None
    texts = network.messages(MOBILE)
    assert len(texts) == 1 and "明日" in texts[0].body
    assert ids["mobile"] not in reminders.due_booking_ids(line_ctx, line_services.settings(), now)


def test_the_text_says_whose_appointment_where_and_how_to_change_it(line_ctx, tomorrow,
                                                                    network):
    now, ids = tomorrow
    _send(line_ctx, ids["mobile"], now)
    [text] = network.messages(MOBILE)
    kept = fetch(line_ctx, Booking, ids["mobile"])
    family = kept.resident.name.split()[0]
    assert f"{family}様" in text.body and kept.resident.name not in text.body  # family name only
    assert kept.slot.site.name in text.body and kept.reference in text.body
    assert "03-1234-5678" in text.body and "生年月日" in text.body


def test_an_english_text_names_the_family_in_latin_letters(line_ctx, tomorrow, network):
    _, ids = tomorrow
    kept = fetch(line_ctx, Booking, ids["mobile"])
    kept.resident.language = "en"
    kept.resident.name_kana = "サトウ ハナコ"
    line_ctx.commit()
    body = reminder_texts.sms_text(line_services.settings(), kept)
    assert "appointment for Satou tomorrow" in body and "Hanako" not in body
    assert kept.slot.site.name_en in body and "call 03-1234-5678" in body
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", body), body  # nothing in Japanese


@pytest.mark.parametrize(("name", "kana", "said"), [
    ("SMITH JOHN", "スミス ジョン", "Smith"),  # their own spelling, not "Sumisu"
    ("O'BRIEN MARY", "オブライエン メアリー", "O'Brien"),
    ("佐藤 花子", "サトウ ハナコ", "Satou"),
    ("大野 一郎", "オーノ イチロウ", "Ono"),  # no "-" for the long-vowel mark
])
def test_an_english_reminder_names_the_family_as_the_resident_would_spell_it(name, kana, said):
    resident = Resident(name=name, name_kana=kana)
    assert reminder_texts.family_name(resident, "en", spoken=True) == said
    assert reminder_texts.family_name(resident, "en", spoken=False) == said
    assert reminder_texts.family_name(resident, "ja", spoken=True) == kana.split()[0]
    assert reminder_texts.family_name(resident, "ja", spoken=False) == name.split()[0]


def test_a_landline_gets_a_call_that_names_the_appointment_and_asks_1_or_5(
        line_ctx, tomorrow, network, webhooks):
    now, ids = tomorrow
    entry = _send(line_ctx, ids["landline"], now)
    assert entry.channel == "voice" and entry.status == "calling"
    entry_id = entry.id
    assert _send(line_ctx, ids["landline"], now) is None
    [ringing] = network.ringing_calls()
    assert ringing.to_number == LANDLINE
    question = post_signed(webhooks, f"/voice/reminder/answer?reminder={entry_id}",
                           CallSid=ringing.sid, AnsweredBy="human").get_data(as_text=True)
    assert "<Gather" in question and "1を" in question and "5を" in question
    assert "ヤマダ様" in question and "明日" in question
    read_back = post_signed(webhooks, f"/voice/reminder/choice?reminder={entry_id}&s=ask&a=0",
                            CallSid=ringing.sid, Digits="5").get_data(as_text=True)
    assert "取り消します" in read_back and "<Gather" in read_back
    assert fetch(line_ctx, Booking, ids["landline"]).status == "confirmed"  # not yet
    done = post_signed(webhooks, f"/voice/reminder/choice?reminder={entry_id}&s=cancel&a=0",
                       CallSid=ringing.sid, Digits="1").get_data(as_text=True)
    assert "取り消しました" in done and "<Hangup" in done
    assert fetch(line_ctx, Booking, ids["landline"]).status == "cancelled"
    assert fetch(line_ctx, ReminderSent, entry_id).status == "cancelled"


def test_confirming_on_the_reminder_call_keeps_the_booking(line_ctx, tomorrow, network,
                                                           webhooks):
    now, ids = tomorrow
    entry = _send(line_ctx, ids["landline"], now)
    post_signed(webhooks, f"/voice/reminder/choice?reminder={entry.id}&s=ask&a=0", Digits="1")
    assert fetch(line_ctx, Booking, ids["landline"]).status == "confirmed"
    assert fetch(line_ctx, ReminderSent, entry.id).status == "confirmed"


def test_reminders_go_out_only_in_the_daytime(app):
    settings = app.config["SETTINGS"]
    day = datetime(2026, 11, 24, tzinfo=settings.tz)
    assert reminders.in_sending_hours(settings, day.replace(hour=11))
    assert not reminders.in_sending_hours(settings, day.replace(hour=21))
    assert not reminders.in_sending_hours(settings, day.replace(hour=7))


def test_the_ledger_refuses_a_second_reminder_of_the_same_kind(line_ctx, tomorrow):
    now, ids = tomorrow
    _send(line_ctx, ids["mobile"], now)
    rows = line_ctx.scalars(select(ReminderSent).where(
        ReminderSent.booking_id == ids["mobile"])).all()
    line_ctx.commit()
    assert [(r.kind, r.status) for r in rows] == [("day_before", "sent")]


def test_spoken_answers_need_the_read_back_too_and_do_not_cancel_means_keep(
        line_ctx, tomorrow, network, webhooks):
    now, ids = tomorrow
    entry_id = _send(line_ctx, ids["landline"], now).id
    ask = f"/voice/reminder/choice?reminder={entry_id}&s=ask&a=0"
    read_back = post_signed(webhooks, ask, SpeechResult="キャンセルしたいです").get_data(
        as_text=True)
    assert "取り消してよろしければ1を" in read_back
    kept = post_signed(webhooks, f"/voice/reminder/choice?reminder={entry_id}&s=cancel&a=0",
                       SpeechResult="いいえ、取り消さないでください").get_data(as_text=True)
    assert "取り消していません" in kept and "<Gather" in kept
    assert fetch(line_ctx, Booking, ids["landline"]).status == "confirmed"
    done = post_signed(webhooks, f"/voice/reminder/choice?reminder={entry_id}&s=cancel&a=0",
                       SpeechResult="はい").get_data(as_text=True)
    assert "取り消しました" in done
    assert fetch(line_ctx, Booking, ids["landline"]).status == "cancelled"


@pytest.mark.parametrize("stage", reminder_answers.STAGES)
def test_nine_repeats_and_zero_reaches_a_person_on_both_questions(stage):
    def decide(key: str, attempt: int = 0) -> reminder_answers.Next:
        return reminder_answers.decide(stage, key, attempt=attempt, max_retries=2,
                                       repeat_key="9", operator_key="0")

    assert decide("9", attempt=1) == reminder_answers.Next(reminder_answers.REPEAT, attempt=1)
    assert decide("0").move == reminder_answers.PERSON
    assert decide("7") == reminder_answers.Next(reminder_answers.AGAIN, "wrong_key", 1)
    assert decide("") == reminder_answers.Next(reminder_answers.AGAIN, "not_heard", 1)
    assert decide("", attempt=1) == reminder_answers.Next(reminder_answers.AGAIN, "not_heard", 2)
    assert decide("", attempt=2).move == reminder_answers.PERSON  # never a hang-up


def test_cancelling_takes_5_then_1_and_5_means_nothing_else_on_the_line(settings):
    from ivr.state import later_key

    ask = reminder_answers.ANSWERS[reminder_answers.ASK]
    assert ask == {"1": reminder_answers.KEEP, "5": reminder_answers.READ_BACK}
    assert reminder_answers.ANSWERS[reminder_answers.CANCEL_OK]["1"] == reminder_answers.CANCEL
    menu = settings.menu
    # Menus, slots, FAQ pages and callback windows use at most 1-4.
    assert reminder_answers.CANCEL_KEY not in (menu.repeat_key, menu.operator_key,
                                               later_key(menu), "1", "2", "3", "4")


def test_an_unknown_reminder_is_answered_without_touching_anything(line_ctx):
    assert reminder_answers.keep(line_ctx, 999_999) == reminder_answers.UNKNOWN
    assert reminder_answers.cancel(line_ctx, 999_999) == reminder_answers.UNKNOWN
    reminder_answers.call_ended(line_ctx, 999_999, "no-answer")


def test_a_reminder_call_nobody_answered_notes_its_final_status_and_keeps_it(
        line_ctx, tomorrow, network):
    now, ids = tomorrow
    entry = _send(line_ctx, ids["landline"], now)
    reminder_answers.call_ended(line_ctx, entry.id, "ringing")
    assert fetch(line_ctx, ReminderSent, entry.id).status == "calling"
    reminder_answers.call_ended(line_ctx, entry.id, "busy")
    assert fetch(line_ctx, ReminderSent, entry.id).status == "busy"
    reminder_answers.call_ended(line_ctx, entry.id, "completed")
    assert fetch(line_ctx, ReminderSent, entry.id).status == "busy"


def test_a_reminder_call_twilio_never_confirmed_is_unknown_then_notes_how_it_ended(
        line_ctx, tomorrow, network, monkeypatch):
    # Not "failed": the call may be ringing; its status callback still tells how it ended.
    from madoguchi.telephony.base import OutcomeUnknown
    from madoguchi.telephony.simulated import SimulatedTelephony

    def answer_lost(self, to_e164, **options):
        raise OutcomeUnknown("call to [number] failed: Twilio did not answer (ReadTimeout)")

    monkeypatch.setattr(SimulatedTelephony, "place_call", answer_lost)
    now, ids = tomorrow
    entry = _send(line_ctx, ids["landline"], now)
    assert fetch(line_ctx, ReminderSent, entry.id).status == "unknown"
    reminder_answers.call_ended(line_ctx, entry.id, "no-answer", call_sid="CA" + "9" * 32)
    ended = fetch(line_ctx, ReminderSent, entry.id)
    assert (ended.status, ended.call_sid) == ("no-answer", "CA" + "9" * 32)
    assert _send(line_ctx, ids["landline"], now) is None  # never sent twice


def test_a_reminder_twilio_is_too_busy_for_is_not_recorded_and_the_run_stops(
        line_ctx, tomorrow, network, monkeypatch, caplog):
    # Launch day's eve: Twilio answers 429. Marked "failed", the reminder would never go; the
    # ledger forgets it and the next run (ten minutes on) sends it, and this run asks no more.
    from call_queue import callback_jobs
    from madoguchi.telephony.base import NetworkBusy
    from madoguchi.telephony.simulated import SimulatedTelephony

    asked: list[str] = []

    def busy(self, to_e164, *args, **options):
        asked.append(to_e164)
        raise NetworkBusy(f"text to {to_e164} failed: Twilio error 20429 (HTTP 429)")

    monkeypatch.setattr(SimulatedTelephony, "send_sms", busy)
    monkeypatch.setattr(SimulatedTelephony, "place_call", busy)
    monkeypatch.setattr(reminders, "in_sending_hours", lambda settings, now: True)
    now, ids = tomorrow
    with caplog.at_level("WARNING", logger="call_queue.callback_jobs"):
        assert callback_jobs.send_reminders() == 0
    assert len(asked) == 1
    # The network's words may quote the resident's number: the log has it masked only.
    assert "reminders wait for the next run" in caplog.text
    assert asked[0] not in caplog.text and asked[0][-4:] in caplog.text
    assert line_ctx.scalars(select(ReminderSent)).all() == []
    line_ctx.commit()
    due = reminders.due_booking_ids(line_ctx, line_services.settings(), now)
    assert sorted(due) == sorted([ids["mobile"], ids["landline"]])
    monkeypatch.undo()
    assert _send(line_ctx, ids["mobile"], now).status == "sent"
