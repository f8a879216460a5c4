"""Numbers and dates said instead of keyed, through the simulator against a real server process.

Wherever the line asks for a number or a date it says that speaking is fine, takes the answer
in the forms callers use (Western or era years, kanji, kana, English words), reads it back and
asks for a confirmation before using it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from madoguchi import inquiries
from madoguchi.models import CallbackRequest
from madoguchi.telephony.engine import WITHHELD_CALLER_ID

from .live_server import live_server  # noqa: F401 (the fixture)
from .test_e2e_calls import (  # noqa: F401 (fixtures)
    booking_row,
    city,
    network,
    place_call,
    play,
    spoken_reference,
)


def test_a_japanese_caller_books_saying_the_resident_number_and_an_era_birth_date(
    city, place_call, committed_db  # noqa: F811
):
    result = play(place_call, """
        press 1
        press 1
        expect 番号を、お話しいただいても、かまいません
        say いちにさん よんごろく
        expect 住民番号は、1 2 3 … 4 5 6、ですね
        press 1
        expect 「昭和29年8月9日」のように、お話しいただいても
        say 昭和二十三年五月十七日
        expect 昭和23年5月17日、ですね
        press 1
        expect ご本人を、確認しました
        press 1
        press 1
        expect ご予約が、確定しました
        hangup
    """, from_number=WITHHELD_CALLER_ID)
    booked = booking_row(committed_db, spoken_reference(result))
    assert booked is not None and booked.resident_id == city["resident_id"]


def test_a_western_birth_date_in_kana_is_read_back_and_a_no_asks_again(
    city, place_call  # noqa: F811
):
    play(place_call, """
        press 1
        press 1
        say 123456
        expect 住民番号は、1 2 3 … 4 5 6、ですね
        press 2
        expect 住民番号を、押してください
        press 123456#
        expect 生年月日
        say せんきゅうひゃくよんじゅうはちねん ごがつ じゅうしちにち
        expect 1948年5月17日、ですね
        press 1
        expect ご本人を、確認しました
        hangup
    """, from_number=WITHHELD_CALLER_ID)


def test_an_english_caller_says_the_number_and_the_date_in_words(
    city, place_call, committed_db  # noqa: F811
):
    result = play(place_call, """
        press 2
        press 1
        expect You can also say the number
        say one two three four five six
        expect Your resident number is 1 2 3 … 4 5 6
        press 1
        expect You can also say it, for example: August ninth, nineteen fifty-four
        say May seventeenth nineteen forty eight
        expect That is May 17, 1948
        press 1
        expect you are confirmed
        press 1
        press 1
        expect Your appointment is booked
        hangup
    """, from_number=WITHHELD_CALLER_ID)
    assert booking_row(committed_db, spoken_reference_en(result)) is not None


def spoken_reference_en(result) -> str:
    """The booking reference an English caller heard, digits only."""
    line = next(line for line in result.spoken.splitlines() if "reference number is" in line)
    said = line.split("reference number is", 1)[1].split(".", 1)[0]
    return "".join(ch for ch in said if ch.isdigit())


def test_a_case_number_said_aloud_is_read_back_then_its_status_told(
    city, place_call, committed_db  # noqa: F811
):
    with committed_db() as session:
        case = inquiries.create(session, category="road", subject="道路の穴", channel="ivr",
                                resident_id=city["resident_id"], now=datetime.now(UTC))
        reference = case.reference
    spaced = " ".join(reference)
    result = play(place_call, f"""
        press 1
        press 2
        press 1
        expect 番号を、お話しいただいても、かまいません
        say {spaced}
        expect 番号は、
        press 1
        expect ただいま、受付済みです
        hangup
    """, from_number=WITHHELD_CALLER_ID)
    [readback] = [line for line in result.spoken.splitlines() if "、ですね" in line]
    said = readback.split("、ですね", 1)[0]
    assert "".join(ch for ch in said if ch.isdigit()) == reference


def test_a_withheld_caller_says_the_callback_number_and_hears_it_read_back(
    city, place_call, committed_db  # noqa: F811
):
    play(place_call, """
        press 1
        press 4
        expect 折り返しお電話する方は、1を
        press 1
        expect お電話番号を、お話しいただいても、かまいません
        say ゼロキュウゼロ いちにさんよん ごろくななはち
        expect お電話番号は、0 9 0 … 1 2 3 4 … 5 6 7 8、ですね
        press 1
        expect お電話する時間を、お選びください
        press 1
        expect 承りました
        hangup
    """, from_number=WITHHELD_CALLER_ID)
    with committed_db() as session:
        [request] = session.scalars(select(CallbackRequest)).all()
    assert request.phone_e164 == "+819012345678"
