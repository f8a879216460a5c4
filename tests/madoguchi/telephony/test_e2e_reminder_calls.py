"""The day-before reminder call, answered through the simulator, over a real server process.

The reminder job's own code places the call (call_queue.reminders) on the simulated network;
the resident's phone picks it up and the scripted resident answers: 1 keeps the appointment,
5 then 1 cancels it, 9 repeats, silence and wrong keys are asked again and then put through to a
person — in Japanese and in English. The call never hangs up on anyone who has not finished.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from call_queue import reminder_texts, reminders
from call_queue.pacing import OutboundPacer
from madoguchi.models import Booking, ReminderSent
from madoguchi.telephony.clock import VirtualClock
from madoguchi.telephony.engine import CallEngine, CallResult
from madoguchi.telephony.outbound import answer_call
from madoguchi.telephony.script import ScriptCaller, parse_script
from madoguchi.telephony.simulated import SimulatedTelephony, city_number
from tests import factories
from tests.conftest import TEST_AUTH_TOKEN

from .live_server import ROOT, live_server  # noqa: F401 (the fixture)

LANDLINE = "+81312121212"  # a household's shared home phone
# What each language says at each point of the call (the resident is 佐藤 花子, サトウ ハナコ).
SAID = {
    "ja": {
        "about": "サトウ様の、明日のご予約のお知らせです",
        "choices": "ご予約を取り消す方は、5を押してください",
        "kept": "お待ちしております",
        "read_back": "サトウ様の、",
        "confirm": "取り消してよろしければ1を",
        "cancelled": "ご予約を、取り消しました",
        "not_cancelled": "ご予約は、取り消していません",
        "not_heard": "お返事が、確認できませんでした",
        "wrong_key": "その番号は、ございません",
        "last_try": "このあと、お返事がないときは、係の人に、おつなぎします",
        "person": "係の人に、おつなぎします",
        "callback": "折り返しお電話する方は、1を",
        "number": "お電話番号は、0 3",
    },
    "en": {
        "about": "A reminder of the appointment for Satou, tomorrow",
        "choices": "To cancel it, press 5",
        "kept": "We look forward to seeing you",
        "read_back": "I will cancel the appointment for Satou on",
        "confirm": "To cancel it, press 1",
        "cancelled": "The appointment has been cancelled",
        "not_cancelled": "Your appointment has not been cancelled",
        "not_heard": "Sorry, I did not catch that",
        "wrong_key": "That key is not one of the choices",
        "last_try": "If there is no answer again, I will put you through to a person",
        "person": "I will put you through to a person",
        "callback": "For us to call you back, press 1",
        "number": "The number is 0 3",
    },
}
LANGUAGES = pytest.mark.parametrize("lang", ["ja", "en"])


@pytest.fixture
def reminder(live_server, committed_db, settings, network, redis_client):  # noqa: F811
    """A booking tomorrow at the civic hall for a resident on a landline; rings the reminder.

    Returns a function of the resident's language that places the reminder call as the job
    does and returns the booking's id, the ledger row's id and the ringing call.
    """
    to_server = settings.model_copy(update={"secrets": settings.secrets.model_copy(
        update={"public_base_url": live_server.base_url})})
    telephony = SimulatedTelephony(network, city_number(settings))

    def ring(lang: str):
        with committed_db() as session:
            today = datetime.now(settings.tz).date()
            starts = datetime.combine(today + timedelta(days=1), time(10, 30), settings.tz)
            campaign = factories.campaign(session)
            site = factories.site(session, name="市民会館", name_en="Civic Hall")
            slot = factories.slot(session, campaign_id=campaign.id, site_id=site.id,
                                  starts_at=starts, booked_count=1)
            resident = factories.resident(session, phone=LANDLINE, name="佐藤 花子",
                                          name_kana="サトウ ハナコ", language=lang)
            row = Booking(reference="9123457", slot_id=slot.id, campaign_id=campaign.id,
                          resident_id=resident.id, status="confirmed", channel="ivr")
            session.add(row)
            session.commit()
            noon = datetime.combine(today, time(12, 0), settings.tz)
            entry = reminders.send_reminder(
                session, row.id, settings=to_server, telephony=telephony,
                pacer=OutboundPacer(redis_client, 100.0),
                sms_text=lambda kept: reminder_texts.sms_text(settings, kept), now=noon)
            assert entry is not None and entry.channel == "voice"
            ringing = network.pick_up(LANDLINE)
            assert ringing is not None, "the reminder call did not ring"
            return row.id, entry.id, ringing

    return ring


def answer(network, ringing, script: str) -> CallResult:
    """The resident picks up and follows the script; fails with what the line said."""
    person = ScriptCaller(parse_script(script))
    engine = CallEngine(TEST_AUTH_TOKEN, clock=VirtualClock(), network=network)
    result = answer_call(engine, ringing, "human", person)
    person.call_ended()
    assert person.failure is None, f"{person.failure}\n--- the line said:\n{result.spoken}"
    assert result.error_code is None, result.error_message
    return result


def state_of(committed_db, booking_id: int, entry_id: int) -> tuple[str, str]:
    """The booking's status and the reminder ledger's, as the server left them."""
    with committed_db() as session:
        kept = session.get(Booking, booking_id)
        entry = session.scalar(select(ReminderSent).where(ReminderSent.id == entry_id))
        return kept.status, entry.status


@LANGUAGES
def test_1_keeps_the_appointment_after_hearing_whose_it_is_when_and_where(
        lang, reminder, network, committed_db):
    booking_id, entry_id, ringing = reminder(lang)
    said = SAID[lang]
    result = answer(network, ringing, f"""
        expect {said["about"]}
        press 1
        expect {said["kept"]}
    """)
    place = "市民会館" if lang == "ja" else "Civic Hall"
    assert place in result.spoken and ("10時30分" in result.spoken or "10:30" in result.spoken)
    assert "花子" not in result.spoken and "Hanako" not in result.spoken  # family name only
    if lang == "en":  # an English resident hears nothing in Japanese
        assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", result.spoken), result.spoken
    assert result.ended_by == "twiml"  # the line said goodbye after the resident had answered
    assert state_of(committed_db, booking_id, entry_id) == ("confirmed", "confirmed")


@LANGUAGES
def test_5_reads_the_appointment_back_and_only_1_then_cancels_it(
        lang, reminder, network, committed_db):
    booking_id, entry_id, ringing = reminder(lang)
    said = SAID[lang]
    result = answer(network, ringing, f"""
        expect {said["choices"]}
        press 5
        expect {said["read_back"]}
        press 1
        expect {said["cancelled"]}
    """)
    read_back = result.spoken.split(said["read_back"], 1)[1]
    assert said["confirm"] in read_back
    assert "0 3" in read_back.split(said["cancelled"], 1)[1]  # and how to book again
    assert state_of(committed_db, booking_id, entry_id) == ("cancelled", "cancelled")


@LANGUAGES
def test_2_after_the_read_back_keeps_the_booking_and_asks_again(
        lang, reminder, network, committed_db):
    booking_id, entry_id, ringing = reminder(lang)
    said = SAID[lang]
    answer(network, ringing, f"""
        press 5
        expect {said["confirm"]}
        press 2
        expect {said["not_cancelled"]}
        press 1
        expect {said["kept"]}
    """)
    assert state_of(committed_db, booking_id, entry_id) == ("confirmed", "confirmed")


@LANGUAGES
def test_9_repeats_the_appointment_and_cancels_nothing(lang, reminder, network, committed_db):
    booking_id, entry_id, ringing = reminder(lang)
    said = SAID[lang]
    result = answer(network, ringing, f"""
        expect {said["about"]}
        press 9
        expect {said["about"]}
        press 9
        expect {said["about"]}
        press 1
        expect {said["kept"]}
    """)
    assert result.spoken.count(said["about"]) == 3
    assert said["not_heard"] not in result.spoken  # a repeat is no miss
    assert state_of(committed_db, booking_id, entry_id) == ("confirmed", "confirmed")


@LANGUAGES
def test_wrong_keys_are_asked_again_and_never_end_the_call(lang, reminder, network,
                                                           committed_db):
    booking_id, entry_id, ringing = reminder(lang)
    said = SAID[lang]
    answer(network, ringing, f"""
        press 7
        expect {said["wrong_key"]}
        press 3
        expect {said["last_try"]}
        press 1
        expect {said["kept"]}
    """)
    assert state_of(committed_db, booking_id, entry_id) == ("confirmed", "confirmed")


@LANGUAGES
def test_a_wrong_key_on_the_read_back_cancels_nothing(lang, reminder, network, committed_db):
    booking_id, entry_id, ringing = reminder(lang)
    said = SAID[lang]
    answer(network, ringing, f"""
        press 5
        expect {said["confirm"]}
        press 9
        expect {said["confirm"]}
        press 7
        expect {said["wrong_key"]}
        press 1
        expect {said["cancelled"]}
    """)
    assert state_of(committed_db, booking_id, entry_id) == ("cancelled", "cancelled")


@LANGUAGES
def test_silence_is_asked_again_then_put_through_to_a_person_who_can_call_back_home(
        lang, reminder, network, committed_db):
    booking_id, entry_id, ringing = reminder(lang)
    said = SAID[lang]
    result = answer(network, ringing, f"""
        wait
        expect {said["not_heard"]}
        wait
        expect {said["last_try"]}
        wait
        expect {said["callback"]}
        press 1
        expect {said["number"]}
        hangup
    """)
    assert said["person"] in result.spoken
    assert result.ended_by == "caller"  # only the resident ever ended the call
    # The callback goes to the home phone the reminder rang, not to the city's own number.
    assert "1 2 1 2" in result.spoken.split(said["number"], 1)[1]
    assert state_of(committed_db, booking_id, entry_id)[0] == "confirmed"


@LANGUAGES
def test_0_reaches_a_person_at_once(lang, reminder, network, committed_db):
    _, _, ringing = reminder(lang)
    said = SAID[lang]
    result = answer(network, ringing, f"""
        press 0
        expect {said["callback"]}
        hangup
    """)
    assert said["not_heard"] not in result.spoken


def test_the_walkthroughs_reminder_journey_plays_as_written(reminder, network, committed_db):
    booking_id, entry_id, ringing = reminder("ja")
    answer(network, ringing, (ROOT / "docs" / "journey-reminder.txt").read_text(encoding="utf-8"))
    assert state_of(committed_db, booking_id, entry_id) == ("cancelled", "cancelled")
