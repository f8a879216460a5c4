"""Input normalisation, spoken answers and birth dates (西暦 and 和暦)."""

from __future__ import annotations

from datetime import date

import pytest

from ivr.birthdate import parse_birth_date
from madoguchi.voice.inputs import (
    clean_digits,
    intent_of,
    names_language,
    printable,
    read_reply,
)
from prompts import catalog

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize("raw", ["1", "*1", "**1", "1#", "*1#", "１", " 1 "])
def test_star_and_hash_are_stripped_so_every_form_of_one_means_one(raw):
    assert clean_digits(raw) == ("1", False)


@pytest.mark.parametrize("raw", ["*", "**", "*#", "***"])
def test_stars_alone_are_a_bare_star_not_an_answer(raw):
    assert clean_digits(raw) == ("", True)


@pytest.mark.parametrize(("raw", "kept"), [
    ("CA0123", "CA0123"), (" inbound ", "inbound"), ("CA\x00\x1b[2J01\n", "CA[2J01"),
    ("\u202e+8190", "+8190"), (None, ""), ("", ""), ("みどり市", "みどり市"),
])
def test_a_form_value_keeps_only_printable_characters(raw, kept):
    assert printable(raw, 64) == kept


def test_a_form_value_is_cut_to_its_limit_after_cleaning():
    assert printable("\x00" * 10 + "A" * 100, 64) == "A" * 64


def test_no_input_is_silence():
    assert read_reply({}).silent
    assert read_reply({"Digits": "", "SpeechResult": ""}).silent
    assert not read_reply({"Digits": "*"}).silent


@pytest.mark.parametrize(("speech", "intent"), [
    ("予約", "book"), ("予約をお願いします", "book"), ("予約の確認", "check"),
    ("取り消したい", "cancel"), ("質問です", "faq"), ("係の人", "operator"),
    ("オペレーター", "operator"), ("はい", "yes"), ("いいえ", "no"),
])
def test_japanese_spoken_answers_are_mapped(speech, intent):
    assert intent_of(speech, catalog("ja")) == intent


@pytest.mark.parametrize(("speech", "intent"), [
    ("i want to book", "book"), ("operator please", "operator"), ("yes", "yes"),
    ("no", "no"), ("i don't know the number", "identity"),
])
def test_english_spoken_answers_are_mapped(speech, intent):
    assert intent_of(speech, catalog("en")) == intent


def test_an_english_word_is_matched_whole_not_inside_another_word():
    assert intent_of("i know my number", catalog("en"), {"no", "yes"}) is None


def test_spoken_digits_become_digits():
    assert read_reply({"SpeechResult": "1 2 3"}).digits == "123"
    assert read_reply({"SpeechResult": "一"}).digits == "1"
    assert read_reply({"SpeechResult": "2番です"}).digits == "2"
    assert read_reply({"SpeechResult": "予約"}).digits == ""


def test_saying_english_names_the_english_language():
    catalogs = [catalog("ja"), catalog("en")]
    assert names_language("english", catalogs) == "en"
    assert names_language("イングリッシュ", catalogs) == "en"
    assert names_language("日本語", catalogs) == "ja"


def test_a_western_birth_date_is_eight_digits():
    assert parse_birth_date("19480517", TODAY).value == date(1948, 5, 17)


@pytest.mark.parametrize(("keys", "expected", "era"), [
    ("1230517", date(1948, 5, 17), "showa"),
    ("2010108", date(1989, 1, 8), "heisei"),
    ("3150301", date(1926, 3, 1), "taisho"),
    ("1640105", date(1989, 1, 5), "showa"),
])
def test_a_japanese_era_date_is_era_key_two_digit_year_month_and_day(keys, expected, era):
    keyed = parse_birth_date(keys, TODAY)
    assert (keyed.value, keyed.era) == (expected, era)
    assert keyed.era_year == int(keys[1:3])


@pytest.mark.parametrize("keys", [
    "1700101",  # 昭和70年 does not exist
    "1000101",  # year 0
    "19481332",  # month 13
    "20300101",  # in the future
    "9230517",  # no era 9
    "123",
    "",
])
def test_impossible_birth_dates_are_refused(keys):
    assert parse_birth_date(keys, TODAY) is None
