"""Whole calls through signed webhooks: book, check, cancel, FAQ, a person — with awkward input."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import prompts
from madoguchi.models import Booking, Call, CallbackRequest, Inquiry
from madoguchi.telephony.network import SimulatedNetwork
from madoguchi.voice.speech import Speaker
from tests.ivr.conftest import BASE, Caller

RESIDENT_NO = "123456"
BIRTH = "19480517"


def call_of(db_session, caller: Caller) -> Call:
    db_session.expire_all()
    return db_session.scalar(select(Call).where(Call.call_sid == caller.call_sid))


def to_menu(caller: Caller) -> None:
    caller.dial()
    caller.press("1")  # 日本語


def identify(caller: Caller) -> None:
    assert "住民番号" in caller.doc.text
    caller.press(RESIDENT_NO + "#")
    assert "生年月日" in caller.doc.text
    caller.press(BIRTH + "#")
    assert "1948年5月17日" in caller.doc.text
    caller.press("1")
    assert "ご本人を、確認しました" in caller.doc.text


def active_bookings(db_session, resident) -> list[Booking]:
    db_session.expire_all()
    return list(db_session.scalars(select(Booking).where(
        Booking.resident_id == resident.id, Booking.status.in_(("held", "confirmed")))))


# ---- the greeting --------------------------------------------------------------------------


def test_the_greeting_says_it_is_the_citys_automated_line_and_how_to_reach_a_person(caller):
    doc = caller.dial()
    assert "みどり市の、自動音声による、ご案内です" in doc.text
    assert "0を押すか、「係の人」と、おっしゃってください" in doc.text
    assert "ボタンが押せない方は、そのまま、お待ちください" in doc.text
    assert "For English, press 2" in doc.text


def test_the_language_menu_speaks_each_language_with_its_own_voice(caller):
    doc = caller.dial()
    voices = {say.get("voice") for say in doc.gather.iter("Say")}
    assert voices == {"Polly.Kazuha-Neural", "Polly.Joanna-Neural"}


def test_saying_english_switches_the_rest_of_the_call_to_english(caller, db_session):
    caller.dial()
    doc = caller.speak("English")
    assert "To make an appointment, press 1." in doc.text
    assert doc.gather.get("language") == "en-US"
    assert {say.get("voice") for say in doc.gather.iter("Say")} == {"Polly.Joanna-Neural"}
    assert call_of(db_session, caller).language == "en"


def test_silence_at_the_language_choice_continues_in_japanese(caller):
    caller.dial()
    doc = caller.wait()
    assert "ご予約の方は、1を押してください" in doc.text


# ---- booking --------------------------------------------------------------------------------


def test_a_resident_books_the_first_slot_and_hears_the_code_twice(caller, city, db_session):
    to_menu(caller)
    caller.press("*1")  # the pulse phone's star before the key
    identify(caller)
    doc = caller.doc
    assert "市民会館の方は、1を押してください" in doc.text
    assert "ほかの日時を、お聞きになる方は、8を押してください" in doc.text
    caller.press("1#")
    assert "お取りします" in caller.doc.text
    doc = caller.press("1")
    booked = active_bookings(db_session, city["resident"])
    assert [b.status for b in booked] == ["confirmed"]
    spoken = " ".join(booked[0].reference)
    assert doc.text.count(spoken) == 2
    assert "ショートメッセージ" in doc.text  # the caller's number is a mobile
    assert call_of(db_session, caller).outcome == "booked"


def test_the_booking_is_texted_to_the_callers_mobile(caller, city, db_session, redis_client):
    to_menu(caller)
    caller.press("1")
    identify(caller)
    caller.press("1")
    caller.press("1")
    reference = active_bookings(db_session, city["resident"])[0].reference
    texts = SimulatedNetwork(redis_client).messages(caller.number)
    assert len(texts) == 1
    assert reference in texts[0].body and "市民会館" in texts[0].body


def test_a_landline_caller_gets_the_text_on_the_residents_registered_mobile(
    client, city, db_session, redis_client
):
    caller = Caller(client, number="0312345678")
    to_menu(caller)
    caller.press("1")
    identify(caller)
    caller.press("1")
    caller.press("1")
    network = SimulatedNetwork(redis_client)
    assert network.messages("+81312345678") == []
    assert len(network.messages("+819011112222")) == 1


def test_no_text_is_promised_when_there_is_no_mobile_number(client, db_session, redis_client):
    from tests import factories

    campaign = factories.campaign(db_session)
    place = factories.site(db_session)
    factories.slot(db_session, campaign_id=campaign.id, site_id=place.id)
    factories.resident(db_session, resident_no="777777", phone="+81312340000")
    db_session.commit()
    caller = Caller(client, number="0312345678")
    to_menu(caller)
    caller.press("1")
    caller.press("777777#")
    caller.press(BIRTH + "#")
    caller.press("1")
    caller.press("1")
    doc = caller.press("1")
    assert "ご予約が、確定しました" in doc.text
    assert "ショートメッセージ" not in doc.text
    assert SimulatedNetwork(redis_client).messages() == []


def test_saying_yoyaku_at_the_menu_starts_a_booking(caller, city):
    to_menu(caller)
    doc = caller.speak("予約をお願いします")
    assert "住民番号" in doc.text


def test_a_known_caller_id_only_needs_the_birth_date(client, city, db_session):
    caller = Caller(client, number="+819011112222")
    to_menu(caller)
    doc = caller.press("1")
    assert "ご本人確認のため、生年月日を" in doc.text
    assert city["resident"].name not in doc.text  # no name read to an unconfirmed caller
    caller.press(BIRTH)
    doc = caller.press("1")
    assert "空いている日時" in doc.text


def test_a_birth_date_in_the_japanese_era_identifies_the_resident(caller, city):
    to_menu(caller)
    caller.press("1")
    caller.press(RESIDENT_NO + "#")
    doc = caller.press("1230517#")  # 昭和23年5月17日
    assert "昭和23年5月17日" in doc.text
    doc = caller.press("1")
    assert "ご本人を、確認しました" in doc.text


def test_a_wrong_birth_date_is_not_accepted_and_asks_again(caller, city):
    to_menu(caller)
    caller.press("1")
    caller.press(RESIDENT_NO + "#")
    caller.press("19500101#")
    doc = caller.press("1")
    assert "見つかりませんでした" in doc.text
    assert "住民番号" in doc.text


def test_a_slot_filled_meanwhile_is_said_plainly_and_the_next_slots_are_offered(
    caller, city, db_session
):
    from madoguchi import booking
    from tests import factories

    to_menu(caller)
    caller.press("1")
    identify(caller)
    first = city["slots"][0]
    for _ in range(first.capacity):
        other = factories.resident(db_session)
        booking.book(db_session, slot_id=first.id, resident_id=other.id, channel="operator")
    doc = caller.press("1")
    assert "たった今、満員になりました" in doc.text
    assert "1を押してください" in doc.text
    caller.press("1")
    caller.press("1")
    booked = active_bookings(db_session, city["resident"])
    assert booked[0].slot_id == city["slots"][1].id


def test_later_dates_are_offered_on_the_later_key(caller, city):
    to_menu(caller)
    caller.press("1")
    identify(caller)
    first_offer = caller.doc.text
    doc = caller.press("8")
    assert doc.text != first_offer
    assert "市民会館の方は、1を押してください" in doc.text


def test_an_existing_booking_is_read_and_can_be_moved_with_a_text_after(
        client, city, db_session, settings, redis_client):
    from madoguchi import booking

    existing = booking.book(db_session, slot_id=city["slots"][0].id,
                            resident_id=city["resident"].id, channel="api")
    speaker = Speaker(prompts.catalog("ja"), settings.tz, 500)
    held, first_other = (speaker.when(s.starts_at) for s in city["slots"][:2])
    caller = Caller(client, number="+819011112222")  # the resident's own mobile
    to_menu(caller)
    caller.press("1")
    caller.press(BIRTH + "#")
    doc = caller.press("1")
    assert "すでに" in doc.text and held in doc.text
    doc = caller.press("1")  # change the date
    # The slot the caller already holds is no choice: option 1 is the next one.
    assert f"{held}、市民会館" not in doc.text
    assert f"{first_other}、市民会館の方は、1を" in doc.text
    caller.press("1")
    assert "変更します" in caller.doc.text
    doc = caller.press("1")
    assert "変更しました" in doc.text and "ショートメッセージ" in doc.text
    db_session.expire_all()
    assert db_session.get(Booking, existing.id).slot_id == city["slots"][1].id
    [text] = SimulatedNetwork(redis_client).messages("+819011112222")
    assert "変更しました" in text.body and first_other in text.body
    assert existing.reference in text.body


def _hold_then_cut_off(client, city) -> Caller:
    """A caller who chose a slot (a place held for them) and was cut off before their yes."""
    first = Caller(client, number="+819011112222")  # the resident's own mobile
    to_menu(first)
    first.press("1")
    first.press(BIRTH + "#")
    first.press("1")  # identified by the caller ID and birth date
    assert "お取りします" in first.press("1").text
    return first


def test_a_held_place_the_caller_never_confirmed_is_read_back_to_confirm_not_announced(
        client, city, db_session):
    _hold_then_cut_off(client, city)
    [held] = active_bookings(db_session, city["resident"])
    assert held.status == "held"
    again = Caller(client, call_sid="CA" + "e" * 32, number="+819011112222")
    to_menu(again)
    again.press("1")
    again.press(BIRTH + "#")
    doc = again.press("1")
    # Not "you already have a booking" with a code, while the hold runs out unconfirmed.
    assert "すでに" not in doc.text and " ".join(held.reference) not in doc.text
    assert "まだ、確定していません" in doc.text and "お取りします" in doc.text
    doc = again.press("1")
    assert "ご予約が、確定しました" in doc.text
    assert [b.status for b in active_bookings(db_session, city["resident"])] == ["confirmed"]


def test_a_held_place_found_by_checking_is_offered_to_confirm(client, city, db_session):
    _hold_then_cut_off(client, city)
    again = Caller(client, call_sid="CA" + "e" * 32, number="+819011112222")
    to_menu(again)
    again.speak("予約の確認")
    again.press("2")
    again.press(BIRTH + "#")
    doc = again.press("1")
    assert "まだ、確定していません" in doc.text and "ご予約があります" not in doc.text
    doc = again.press("2")  # another time: the held place is let go, the slots are offered
    assert "市民会館の方は、1を押してください" in doc.text
    assert active_bookings(db_session, city["resident"]) == []


# ---- checking and cancelling ---------------------------------------------------------------


def test_a_booking_is_checked_and_cancelled_by_its_reference_code(caller, city, db_session):
    from madoguchi import booking

    existing = booking.book(db_session, slot_id=city["slots"][0].id,
                            resident_id=city["resident"].id, channel="api")
    to_menu(caller)
    caller.press("2")
    caller.press("1")
    doc = caller.press(existing.reference + "#")
    assert "生年月日" in doc.text and "ご予約があります" not in doc.text
    caller.press(BIRTH + "#")
    doc = caller.press("1")
    assert "ご予約があります" in doc.text
    doc = caller.press("2")
    assert "取り消してよろしければ1" in doc.text
    doc = caller.press("1")
    assert "ご予約を、取り消しました" in doc.text
    db_session.expire_all()
    assert db_session.get(Booking, existing.id).status == "cancelled"


def test_cancelling_needs_an_explicit_yes(caller, city, db_session):
    from madoguchi import booking

    existing = booking.book(db_session, slot_id=city["slots"][0].id,
                            resident_id=city["resident"].id, channel="api")
    to_menu(caller)
    caller.press("2")
    caller.press("1")
    caller.press(existing.reference)
    caller.press(BIRTH)
    caller.press("1")
    caller.press("2")
    caller.wait()
    doc = caller.press("2")
    assert "取り消していません" in doc.text
    db_session.expire_all()
    assert db_session.get(Booking, existing.id).status == "confirmed"


def test_a_booking_is_found_by_identity_when_the_code_is_lost(caller, city, db_session):
    from madoguchi import booking

    booking.book(db_session, slot_id=city["slots"][0].id, resident_id=city["resident"].id,
                 channel="api")
    to_menu(caller)
    caller.speak("予約の確認")
    caller.press("2")
    identify(caller)
    assert "ご予約があります" in caller.doc.text


def test_an_inquiry_number_tells_its_status_and_last_public_update(caller, db_session):
    from madoguchi import inquiries

    case = inquiries.create(db_session, category="road", subject="街灯が消えている",
                            channel="phone")
    inquiries.set_status(db_session, case, "in_progress", public_text="来週、修理します。")
    to_menu(caller)
    caller.press("2")
    caller.press("1")
    doc = caller.press(case.reference + "#")
    assert "対応中" in doc.text
    assert "来週、修理します。" in doc.text


def test_a_note_written_in_japanese_is_said_to_an_english_caller_in_the_japanese_voice(
        caller, db_session):
    from madoguchi import inquiries

    case = inquiries.create(db_session, category="road", subject="街灯が消えている",
                            channel="phone")
    inquiries.set_status(db_session, case, "in_progress", public_text="来週、修理します。")
    caller.dial()
    caller.press("2")  # English
    caller.press("2")
    caller.press("1")
    doc = caller.press(case.reference + "#")
    voices = [(say.get("language"), "".join(say.itertext())) for say in doc.root.iter("Say")]
    said_in = {text: language for language, text in voices}
    [note] = [text for text in said_in if "来週、修理します。" in text]
    assert said_in[note] == "ja-JP"  # an English voice cannot read kanji
    assert "The latest update from the city, in Japanese, is:" in doc.text
    assert all(language == "en-US" for language, text in voices if text != note)


def test_a_mistyped_code_is_said_plainly_and_asked_again(caller, city):
    to_menu(caller)
    caller.press("2")
    caller.press("1")
    doc = caller.press("1234567#")
    assert "その番号は、見つかりませんでした" in doc.text
    assert doc.gather is not None


# ---- FAQ ---------------------------------------------------------------------------------------


def test_faq_answers_come_from_the_database_then_back_to_the_menu(caller, faq):
    to_menu(caller)
    doc = caller.press("3")
    assert "持ち物については、1を押してください" in doc.text
    doc = caller.press("1")
    assert "持ち物の答えです。" in doc.text
    doc = caller.press("2")
    assert "ご予約の方は、1を押してください" in doc.text


def test_faq_answers_are_read_in_english_to_english_callers(caller, faq):
    caller.dial()
    caller.press("2")
    caller.press("3")
    doc = caller.press("2")
    assert "The answer about parking." in doc.text


# ---- a person ----------------------------------------------------------------------------------


def test_zero_reaches_a_person_from_any_question(caller, city, open_line):
    to_menu(caller)
    caller.press("1")
    doc = caller.press("0")
    assert doc.root.find("Dial/Number").text == "+81312349999"


def test_saying_kakari_no_hito_reaches_a_person(caller, open_line):
    to_menu(caller)
    doc = caller.speak("係の人")
    assert doc.root.find("Dial") is not None


def test_silence_from_the_start_reaches_a_person_not_an_error(caller, open_line, db_session):
    caller.dial()
    caller.wait()
    doc = caller.wait()
    assert doc.root.find("Dial") is not None
    assert "確認できませんでした" not in doc.text
    assert call_of(db_session, caller).outcome == "queued"


def test_a_wrong_key_three_times_reaches_a_person_after_a_warning(caller, open_line):
    to_menu(caller)
    first = caller.press("7")
    assert "その番号は、ございません" in first.text
    second = caller.press("7")
    assert "係の人に、おつなぎします" in second.text  # warned before giving up
    assert int(second.gather.get("timeout")) > int(first.gather.get("timeout"))  # and extended
    third = caller.press("7")
    assert third.root.find("Dial") is not None


def test_stars_alone_re_ask_at_once_without_counting_an_error(caller, open_line):
    to_menu(caller)
    for _ in range(5):
        doc = caller.press("**")
        assert "はい、どうぞ" in doc.text
        assert doc.gather is not None
    doc = caller.press("1")
    assert "住民番号" in doc.text


def test_the_repeat_key_repeats_the_question(caller):
    to_menu(caller)
    doc = caller.press("9")
    assert "ご予約の方は、1を押してください" in doc.text
    assert "確認できませんでした" not in doc.text


def test_an_unanswered_person_call_offers_a_callback(caller, open_line):
    to_menu(caller)
    caller.press("4")
    doc = caller.post(caller.doc.next_url, DialCallStatus="no-answer")
    assert "つながりませんでした" in doc.text
    assert "折り返し" in doc.text


def test_a_withheld_caller_keys_in_a_callback_number_read_back_digit_by_digit(
    client, closed_line, db_session
):
    caller = Caller(client, number="+266696687")
    to_menu(caller)
    doc = caller.press("4")
    assert "受付時間の外です" in doc.text and "午前8時30分" in doc.text
    doc = caller.press("1")
    assert "市外局番から" in doc.text
    doc = caller.press("０９０-１２３４-５６７８#".replace("-", ""))
    assert "0 9 0 1 2 3 4 5 6 7 8" in doc.text
    doc = caller.press("1")
    assert doc.hung_up
    assert "以降に" in doc.text
    db_session.expire_all()
    request = db_session.scalar(select(CallbackRequest))
    assert request.phone_e164 == "+819012345678"
    assert request.window_start is not None
    assert call_of(db_session, caller).outcome == "callback"


def test_an_anonymous_caller_with_a_wrong_number_is_asked_again(client, closed_line):
    caller = Caller(client, number="Anonymous")
    to_menu(caller)
    caller.press("4")
    caller.press("1")
    doc = caller.press("12#")
    assert "お電話番号として、確認できませんでした" in doc.text


def test_a_second_callback_request_from_the_same_number_updates_the_first(
    client, closed_line, db_session
):
    for sid in ("CA" + "a" * 32, "CA" + "b" * 32):
        caller = Caller(client, call_sid=sid, number="09011112222")
        to_menu(caller)
        caller.press("4")
        caller.press("1")
        assert "0 9 0" in caller.doc.text
        caller.press("1")
    db_session.expire_all()
    assert len(list(db_session.scalars(select(CallbackRequest)))) == 1


def test_a_voicemail_is_announced_recorded_and_becomes_a_case(caller, closed_line, db_session):
    to_menu(caller)
    caller.press("4")
    doc = caller.press("2")
    assert "録音を、始めます" in doc.text
    record = doc.root.find("Record")
    assert record is not None and record.get("transcribe") is None
    doc = caller.post(record.get("action"), RecordingUrl="https://api.twilio.com/rec/RE1",
                      RecordingDuration="12")
    assert "ご伝言を、承りました" in doc.text and doc.hung_up
    db_session.expire_all()
    case = db_session.scalar(select(Inquiry))
    assert case.category == "voicemail"
    assert any(e.kind == "recording" and e.text.endswith("RE1") for e in case.events)
    due = case.due_at - case.created_at
    assert due == timedelta(hours=caller.client.application.config["SETTINGS"]
                            .inquiries.voicemail_due_hours), "a voicemail is due, then overdue"
    assert " ".join(case.reference[:3]) in doc.text
    assert call_of(db_session, caller).outcome == "voicemail"


def test_saying_goodbye_after_finishing_ends_the_call_politely(caller, faq, db_session):
    to_menu(caller)
    caller.press("3")
    caller.press("1")
    doc = caller.press("3")
    assert doc.hung_up and "お電話ありがとうございました" in doc.text
    assert call_of(db_session, caller).outcome == "self_served"


def test_every_call_leaves_a_path_without_birth_dates(caller, city, db_session):
    to_menu(caller)
    caller.press("1")
    identify(caller)
    path = call_of(db_session, caller).path
    nodes = [entry["node"] for entry in path]
    assert nodes[:3] == ["incoming", "language", "menu"]
    assert "identified" in nodes
    assert BIRTH not in str(path) and RESIDENT_NO not in str(path)


def test_action_urls_are_absolute_and_carry_no_phone_number(client, closed_line):
    caller = Caller(client, number="+266696687")
    to_menu(caller)
    caller.press("4")
    caller.press("1")
    caller.press("09012345678#")
    for doc in caller.history:
        url = doc.next_url
        assert url.startswith(BASE + "/voice/")
        assert "9012345678" not in url


def test_an_english_caller_hears_the_open_slots_in_english(caller, city):
    caller.dial()
    caller.press("2")
    caller.press("1")
    caller.press(RESIDENT_NO + "#")
    caller.press(BIRTH + "#")
    doc = caller.press("1")
    assert "Civic Hall, press 1." in doc.text
    assert " at " in doc.text and ("a.m." in doc.text or "p.m." in doc.text)


def test_a_hold_that_expired_before_the_yes_offers_the_slots_again(caller, city, db_session):
    from datetime import UTC, datetime, timedelta

    to_menu(caller)
    caller.press("1")
    identify(caller)
    caller.press("1")
    held = active_bookings(db_session, city["resident"])[0]
    held.held_until = datetime.now(UTC) - timedelta(minutes=1)
    db_session.commit()
    doc = caller.press("1")
    assert "お取りしていた日時を、解除しました" in doc.text
    assert "市民会館の方は、1を押してください" in doc.text
    assert active_bookings(db_session, city["resident"]) == []


def test_within_hours_without_a_number_for_a_person_a_callback_is_offered(caller, app):
    from tests.ivr.conftest import configure

    configure(app, hours={"always_open": True}, queue={"fallback_number": ""})
    to_menu(caller)
    doc = caller.press("4")
    assert "おつなぎできません" in doc.text
    assert "折り返しお電話する方は、1を押してください" in doc.text


def test_silence_at_the_callback_offer_is_a_callback_on_the_callers_own_number(
    caller, closed_line, db_session
):
    to_menu(caller)
    doc = caller.press("4")
    assert "何も押されない場合は、このお電話の番号" in doc.text
    doc = caller.wait()
    assert doc.root.find("Record") is None  # a voicemail only when the caller chooses it
    assert "お声が、聞き取れませんでしたので" in doc.text
    assert "0 9 0 1 2 3 4 5 6 7 8" in " ".join(doc.text.split())
    # Silence still never ends the call: the caller is asked the usual last question.
    assert not doc.hung_up and "ほかに、ご用件のある方は" in doc.text
    caller.repeat_last()  # a Twilio retry of that request asks for no second callback
    db_session.expire_all()
    requests = list(db_session.scalars(select(CallbackRequest)))
    assert [(r.phone_e164, r.reason) for r in requests] == [("+819012345678", "silent_caller")]
    call = call_of(db_session, caller)
    assert call.outcome == "callback" and requests[0].call_id == call.id
    assert "silent_callback" in [step["node"] for step in call.path]


def test_an_empty_recording_the_caller_chose_leads_back_to_the_offer_not_round_again(
    caller, closed_line, db_session
):
    to_menu(caller)
    caller.press("4")
    doc = caller.press("2")
    assert doc.root.find("Record") is not None
    doc = caller.post(doc.root.find("Record").get("action"))  # Twilio: nothing was recorded
    assert "録音できませんでした" in doc.text and "何も押されない場合は" in doc.text
    doc = caller.wait()
    assert "お声が、聞き取れませんでしたので" in doc.text and not doc.hung_up


def test_a_silent_withheld_caller_is_offered_the_recording_once_then_told_the_other_ways(
    client, closed_line, db_session
):
    caller = Caller(client, number="Anonymous")
    to_menu(caller)
    caller.press("4")
    caller.wait()  # two re-prompts, the last one saying what comes next
    doc = caller.wait()
    assert "お返事がないときは、ご伝言の録音を、始めます" in doc.text
    doc = caller.wait()
    assert doc.root.find("Record") is not None
    doc = caller.post(doc.root.find("Record").get("action"))  # nothing was recorded
    assert "番号が通知されていないため" in doc.text and "窓口" in doc.text
    assert "またおかけ" not in doc.text and not doc.hung_up
    for _ in range(8):  # on and on in silence: never a second recording, never a hang-up
        doc = caller.wait()
        assert not doc.hung_up and doc.root.find("Record") is None
    db_session.expire_all()
    assert db_session.scalar(select(CallbackRequest)) is None
