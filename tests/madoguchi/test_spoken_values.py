"""Numbers and dates said aloud, as a recogniser writes them, read as the keys they stand for."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.birthdate import keyed_form, parse_birth_date
from madoguchi.voice.inputs import read_reply
from madoguchi.voice.spoken import SpokenDate, date_from_speech, number_from_speech

TODAY = date(2026, 12, 6)


@pytest.mark.parametrize(("said", "expected"), [
    ("1954年8月9日", SpokenDate(None, 1954, 8, 9)),
    ("1954年 8月 9日生まれです", SpokenDate(None, 1954, 8, 9)),
    ("千九百五十四年八月九日", SpokenDate(None, 1954, 8, 9)),
    ("昭和29年8月9日", SpokenDate("showa", 29, 8, 9)),
    ("昭和二十九年八月九日です", SpokenDate("showa", 29, 8, 9)),
    ("しょうわにじゅうくねんはちがつここのか", SpokenDate("showa", 29, 8, 9)),
    ("せんきゅうひゃくごじゅうよねんはちがつここのか", SpokenDate(None, 1954, 8, 9)),
    ("セン キュウヒャク ゴジュウヨネン ハチガツ ココノカ", SpokenDate(None, 1954, 8, 9)),
    ("へいせいがんねんいちがつようか", SpokenDate("heisei", 1, 1, 8)),
    ("れいわ2ねん12がつにじゅうよっか", SpokenDate("reiwa", 2, 12, 24)),
    ("たいしょうじゅうごねんじゅうにがつついたち", SpokenDate("taisho", 15, 12, 1)),
])
def test_japanese_dates_in_digits_kanji_kana_and_eras(said, expected):
    assert date_from_speech(said, "ja") == expected


@pytest.mark.parametrize("said", [
    "August ninth 1954", "august ninth nineteen fifty four", "the ninth of August, 1954",
    "nineteen fifty-four August the ninth", "Aug 9th 1954", "8 9 1954",
    "I was born on August nine nineteen fifty four",
])
def test_english_dates_in_words_and_digits(said):
    assert date_from_speech(said, "en") == SpokenDate(None, 1954, 8, 9)


@pytest.mark.parametrize(("said", "lang"), [
    ("はちがつここのか", "ja"), ("お願いします", "ja"), ("", "ja"), ("August ninth", "en"),
    ("yes please", "en"), ("1954 1955 August 9", "en"),
])
def test_what_is_not_a_whole_date_is_no_date(said, lang):
    assert date_from_speech(said, lang) is None


@pytest.mark.parametrize(("said", "lang", "digits"), [
    ("いちにさんよんごろく", "ja", "123456"),
    ("一二三四五六", "ja", "123456"),
    ("ゼロキュウゼロ いちにさんよん ごろくななはち", "ja", "09012345678"),
    ("番号は、いちにさん、です", "ja", "123"),
    ("１２３４", "ja", "1234"),
    ("せんにじゅうさん", "ja", "1023"),
    ("お願いします", "ja", ""),
    ("one two three four five six", "en", "123456"),
    ("oh nine oh one two three four five six seven eight", "en", "09012345678"),
    ("my number is 1 2 3", "en", "123"),
    ("nineteen forty eight", "en", "1948"),
    ("", "en", ""),
])
def test_numbers_said_digit_by_digit_or_as_a_whole(said, lang, digits):
    assert number_from_speech(said, lang) == digits


@pytest.mark.parametrize(("spoken", "keys"), [
    (SpokenDate(None, 1954, 8, 9), "19540809"),
    (SpokenDate("showa", 29, 8, 9), "1290809"),
    (SpokenDate("heisei", 1, 1, 8), "2010108"),
    (SpokenDate("reiwa", 2, 12, 24), "4021224"),
    (SpokenDate("meiji", 40, 1, 1), None),  # no key for 明治 (and no such living caller)
    (SpokenDate(None, 54, 8, 9), None),  # a two-digit year without an era is ambiguous
    (SpokenDate(None, 1954, 13, 9), None),
])
def test_a_spoken_date_becomes_the_keys_that_say_the_same(spoken, keys):
    assert keyed_form(spoken) == keys


def test_the_spoken_era_date_is_the_same_day_as_keyed_and_reads_back_in_the_era():
    keyed = parse_birth_date(keyed_form(date_from_speech("昭和29年8月9日", "ja")), TODAY)
    assert keyed is not None
    assert (keyed.value, keyed.era, keyed.era_year) == (date(1954, 8, 9), "showa", 29)


@pytest.mark.parametrize(("said", "digits"), [
    ("いち", "1"), ("にばん", "2"), ("ごばんです", "5"), ("ゼロ", "0"), ("one", "1"),
    ("nine", "9"), ("はい", ""), ("お願いします", ""), ("oh", ""), ("no", ""),
    ("two please", ""),
])
def test_a_key_said_as_a_word_answers_a_one_key_question(said, digits):
    assert read_reply({"SpeechResult": said}).digits == digits


# Numerals, units and eras in every writing: the pieces a recogniser's text is made of.
NUMBER_PIECES = st.text(alphabet="〇一二三四五六七八九零十百千万年月日昭和平成元"
                                 "いちにさんしよごろくなはきゅうじひゃくせんまねがつ 0123456789",
                        max_size=30)


@given(st.one_of(st.text(max_size=60), NUMBER_PIECES))
def test_any_speech_gives_digits_or_nothing_and_never_raises(said):
    for lang in ("ja", "en"):
        assert number_from_speech(said, lang).isdigit() or number_from_speech(said, lang) == ""
        found = date_from_speech(said, lang)
        assert found is None or isinstance(found, SpokenDate)
