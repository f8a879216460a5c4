"""Small manners of the line: a spilled #, the person key in English, and whose booking opens.

A `1#` on a one-key question answers it with the 1; the # lands in the next question as an
empty answer finished by #. That is no miss: the question is put again, uncounted. An English
caller hears the person key in English. A booking's reference number opens it for a change only
to a caller who is its holder: identified, calling from a number on the holder's record, or
confirming the holder's birth date.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from madoguchi import booking
from madoguchi.models import Booking
from madoguchi.voice.inputs import read_reply
from tests.ivr.conftest import Caller
from tests.ivr.test_journeys import BIRTH, to_menu

RESIDENT_MOBILE = "+819011112222"  # on the record of the city fixture's resident


def _attempt(caller: Caller) -> str:
    return parse_qs(urlsplit(caller.doc.next_url).query)["a"][0]


def test_a_bare_hash_is_neither_an_answer_nor_silence():
    spilled = read_reply({"Digits": "", "FinishedOnKey": "#"})
    assert spilled.hash_only and not spilled.silent
    assert read_reply({"Digits": "", "FinishedOnKey": ""}).silent
    assert not read_reply({"Digits": "1", "FinishedOnKey": ""}).hash_only


def test_the_hash_of_1_hash_spilling_into_the_next_question_costs_no_try(client):
    caller = Caller(client)
    caller.dial()
    caller.press("1")  # 日本語
    menu = caller.doc.text
    assert "ご予約の方は、1を" in menu
    doc = caller.post(caller.doc.next_url, Digits="", FinishedOnKey="#")
    assert doc.gather is not None
    assert "確認できませんでした" not in doc.text and "その番号は" not in doc.text
    assert "ご予約の方は、1を" in doc.text and _attempt(caller) == "0"


def test_a_spilled_hash_on_a_digit_entry_asks_it_again_uncounted(client, city):
    caller = Caller(client, number="Anonymous")
    to_menu(caller)
    caller.press("1")
    assert "住民番号" in caller.doc.text
    doc = caller.post(caller.doc.next_url, Digits="", FinishedOnKey="#")
    assert "住民番号" in doc.text and "確認できませんでした" not in doc.text
    assert _attempt(caller) == "0"


def test_an_english_caller_hears_the_person_key_in_english(client):
    caller = Caller(client)
    caller.dial()
    doc = caller.press("2")  # English
    assert "To speak with a person at any time, press 0, or say operator." in doc.text
    assert "To make an appointment, press 1." in doc.text


def test_a_japanese_caller_is_not_told_the_person_key_twice(client):
    caller = Caller(client)
    caller.dial()
    assert caller.doc.text.count("係の人と、お話しになりたいときは") == 1
    assert "係の人と、お話しになりたいときは" not in caller.press("1").text


def _by_reference(caller: Caller, reference: str):
    to_menu(caller)
    caller.press("2")  # check or cancel
    caller.press("1")  # I have the number
    return caller.press(reference + "#")


def test_a_reference_from_an_unknown_number_opens_the_booking_only_with_the_birth_date(
        client, city, db_session):
    existing = booking.book(db_session, slot_id=city["slots"][0].id,
                            resident_id=city["resident"].id, channel="api")
    caller = Caller(client, number="+819099990000")
    doc = _by_reference(caller, existing.reference)
    assert "生年月日" in doc.text and "ご予約があります" not in doc.text
    caller.press("19500101#")
    doc = caller.press("1")
    assert "見つかりませんでした" in doc.text and "ご予約があります" not in doc.text
    assert "生年月日" in doc.text  # asked again, once
    caller.press(BIRTH + "#")
    doc = caller.press("1")
    assert "ご本人を、確認しました" in doc.text and "ご予約があります" in doc.text
    caller.press("2")
    assert "取り消しました" in caller.press("1").text
    db_session.expire_all()
    assert db_session.get(Booking, existing.id).status == "cancelled"


def test_two_wrong_birth_dates_lead_to_a_person_and_leave_the_booking_alone(
        client, city, db_session):
    existing = booking.book(db_session, slot_id=city["slots"][0].id,
                            resident_id=city["resident"].id, channel="api")
    caller = Caller(client, number="Anonymous")
    _by_reference(caller, existing.reference)
    for _ in range(2):
        caller.press("19500101#")
        doc = caller.press("1")
    assert "見つかりませんでした" in doc.text and "ご予約があります" not in doc.text
    assert "生年月日" not in doc.text  # no third guess
    db_session.expire_all()
    assert db_session.get(Booking, existing.id).status == "confirmed"


def test_a_reference_from_a_number_on_the_holders_record_opens_the_booking_at_once(
        client, city, db_session):
    existing = booking.book(db_session, slot_id=city["slots"][0].id,
                            resident_id=city["resident"].id, channel="api")
    caller = Caller(client, number=RESIDENT_MOBILE)
    doc = _by_reference(caller, existing.reference)
    assert "ご予約があります" in doc.text and "生年月日" not in doc.text


def test_a_cancelled_booking_is_said_to_be_cancelled_without_asking_more(
        client, city, db_session):
    existing = booking.book(db_session, slot_id=city["slots"][0].id,
                            resident_id=city["resident"].id, channel="api")
    booking.cancel(db_session, existing.reference)
    doc = _by_reference(Caller(client, number="Anonymous"), existing.reference)
    assert "このご予約は、すでに、取り消されています" in doc.text and "生年月日" not in doc.text
