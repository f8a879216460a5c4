"""The prompts files: every language has every key, the same placeholders, and a voice."""

from __future__ import annotations

import tomllib

import pytest

import prompts
from prompts import PROMPTS_DIR, PromptError, catalog, placeholders

LANGUAGES = prompts.available_languages()


def _raw(code: str) -> dict:
    return tomllib.loads((PROMPTS_DIR / f"{code}.toml").read_text(encoding="utf-8"))


def test_japanese_and_english_are_both_available_with_their_voices():
    assert {"ja", "en"} <= set(LANGUAGES)
    assert catalog("ja").voice.voice == "Polly.Kazuha-Neural"
    assert catalog("ja").voice.language == "ja-JP"
    assert catalog("en").voice.language == "en-US"


@pytest.mark.parametrize("section", prompts.SECTIONS)
@pytest.mark.parametrize("code", [c for c in LANGUAGES if c != "ja"])
def test_every_language_has_exactly_the_keys_of_the_japanese_file(code, section):
    japanese, other = _raw("ja")[section], _raw(code)[section]
    assert sorted(set(japanese) - set(other)) == [], f"{code}.toml [{section}] lacks these keys"
    assert sorted(set(other) - set(japanese)) == [], f"{code}.toml [{section}] has extra keys"


@pytest.mark.parametrize("code", [c for c in LANGUAGES if c != "ja"])
def test_every_sentence_uses_the_same_placeholders_in_every_language(code):
    japanese, other = _raw("ja")["say"], _raw(code)["say"]
    different = {
        key: (placeholders(japanese[key]), placeholders(other[key]))
        for key in japanese
        if key in other and placeholders(japanese[key]) != placeholders(other[key])
    }
    assert different == {}


def test_a_missing_key_is_reported_with_the_file_and_the_key():
    with pytest.raises(PromptError, match=r"prompts/ja.toml: \[say\] has no key 'no_such'"):
        catalog("ja").text("no_such")


def test_a_language_without_a_voice_row_is_refused_with_a_clear_message():
    with pytest.raises(PromptError, match=r"voices\.toml: no row"):
        catalog("xx")


def test_a_language_is_added_with_one_file_and_one_voice_row(tmp_path):
    (tmp_path / "voices.toml").write_text('[ko]\nvoice = "Polly.Seoyeon"\nlanguage = "ko-KR"\n')
    (tmp_path / "ko.toml").write_text(
        '[say]\ngreeting = "안녕하세요 {city}"\n[hear]\nyes = ["네"]\n[format]\nam = "오전"\n',
        encoding="utf-8",
    )
    korean = catalog("ko", tmp_path)
    assert prompts.available_languages(tmp_path) == ["ko"]
    assert korean.text("greeting", city="미도리") == "안녕하세요 미도리"
    assert korean.voice.voice == "Polly.Seoyeon"
