"""How the line speaks: natural Japanese dates, digits in groups, SSML pace, recorded audio."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from madoguchi.voice import twiml
from madoguchi.voice.speech import Line, Pause, Speaker
from prompts import catalog, load_voices
from tests.ivr.conftest import BASE, Caller, configure

TOKYO = ZoneInfo("Asia/Tokyo")


def speaker(lang: str = "ja") -> Speaker:
    return Speaker(catalog(lang), TOKYO, 500)


def parse(response) -> ET.Element:
    return ET.fromstring(response.to_xml())  # noqa: S314 (built here)


def voicing(lang: str = "ja", audio=None) -> twiml.Voicing:
    return twiml.Voicing(voices=load_voices(), lang=lang, rate_percent=90, audio=audio or {})


def test_a_slot_time_is_said_as_a_japanese_date_weekday_and_time_in_city_time():
    instant = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)  # 09:30 in Tokyo
    assert speaker().when(instant) == "11月25日、水曜日、午前9時30分"
    assert speaker().when(datetime(2026, 11, 25, 5, 0, tzinfo=UTC)) == "11月25日、水曜日、午後2時"


def test_a_slot_time_is_said_naturally_in_english():
    instant = datetime(2026, 11, 25, 0, 5, tzinfo=UTC)
    assert speaker("en").when(instant) == "Wednesday, November 25, at 9:05 a.m."


def test_a_reference_code_is_read_digit_by_digit_in_groups_of_three():
    assert speaker().digits("4334267") == "4 3 3|4 2 6|7"


def test_a_phone_number_is_read_back_in_its_national_groups():
    assert speaker().phone_number("+819012345678") == "0 9 0|1 2 3 4|5 6 7 8"


def test_a_birth_date_is_read_back_the_way_it_was_keyed():
    assert speaker().birth_date(date(1948, 5, 17), "showa", 23) == "昭和23年5月17日"
    assert speaker().birth_date(date(1948, 5, 17)) == "1948年5月17日"


def test_a_question_listens_for_keys_and_speech_patiently_and_always_comes_back():
    spec = twiml.Question(action_url=f"{BASE}/voice/step/menu?a=0", hints=("予約", "確認"),
                          utterance=(Line("ご予約の方は、1を押してください。", "option_book"),),
                          timeout_seconds=8)
    root = parse(twiml.question(spec, voicing()))
    gather = root.find("Gather")
    assert gather.attrib == {
        "action": f"{BASE}/voice/step/menu?a=0", "method": "POST", "input": "dtmf speech",
        "timeout": "8", "speechTimeout": "3", "language": "ja-JP", "hints": "予約,確認",
        "actionOnEmptyResult": "true", "numDigits": "1",
    }
    assert [child.tag for child in root] == ["Gather", "Redirect"]
    assert root.find("Redirect").text == f"{BASE}/voice/step/menu?a=0"


def test_a_reused_question_is_the_built_one_with_each_calls_own_action_url():
    utterance = (Line("ご予約の方は、1を押してください。", "option_book"),)
    for nonce in ("aaaa1111", "bbbb2222"):
        url = f"{BASE}/voice/step/menu?a=0&k={nonce}&l=ja"
        spec = twiml.Question(action_url=url, hints=("予約",), utterance=utterance)
        reused = twiml.reused_question(spec, voicing())
        assert reused.to_xml() == twiml.question(spec, voicing()).to_xml()
        assert parse(reused).find("Gather").get("action") == url
        assert parse(reused).find("Redirect").text == url


def test_a_reused_question_changes_with_its_wording_and_recorded_audio():
    url = f"{BASE}/voice/step/menu?a=0"
    spec = twiml.Question(action_url=url, utterance=(Line("はい。", "yes"),))
    other = twiml.Question(action_url=url, utterance=(Line("いいえ。", "no"),))
    recorded = voicing(audio={("ja", "yes"): f"{BASE}/voice/audio/ja/yes.mp3"})
    assert "はい" in twiml.reused_question(spec, voicing()).to_xml()
    assert "いいえ" in twiml.reused_question(other, voicing()).to_xml()
    assert parse(twiml.reused_question(spec, recorded)).find("Gather/Play") is not None


def test_a_digit_entry_finishes_on_hash_instead_of_one_key():
    spec = twiml.Question(action_url=f"{BASE}/x", utterance=(Line("番号を"),), single_key=False)
    gather = parse(twiml.question(spec, voicing())).find("Gather")
    assert gather.get("finishOnKey") == "#" and gather.get("numDigits") is None


def test_speech_is_slowed_mildly_with_pauses_between_sentences():
    utterance = (Line("ひとつめ。"), Pause(500), Line("ふたつめ。|みっつめ。"))
    root = parse(twiml.goodbye(utterance, voicing()))
    say = root.find("Say")
    assert (say.get("voice"), say.get("language")) == ("Polly.Kazuha-Neural", "ja-JP")
    prosody = say.find("prosody")
    assert prosody.get("rate") == "90%"
    assert [b.get("time") for b in prosody.findall("break")] == ["500ms", "500ms"]
    spoken = [text.strip() for text in prosody.itertext()]
    assert spoken == ["ひとつめ。", "ふたつめ。", "みっつめ。"]


def test_a_recorded_prompt_is_played_instead_of_spoken():
    audio = {("ja", "greeting"): "https://cdn.example.test/ja/greeting.mp3"}
    utterance = (Line("お電話ありがとうございます。", "greeting"), Pause(500),
                 Line("ご用件を、お選びください。", "menu_intro"))
    root = parse(twiml.announce_then(utterance, voicing(audio=audio), f"{BASE}/next"))
    assert [child.tag for child in root] == ["Play", "Say", "Redirect"]
    assert root.find("Play").text == "https://cdn.example.test/ja/greeting.mp3"


def test_the_call_plays_recorded_audio_from_the_audio_folder_and_serves_it(
    client, app, tmp_path
):
    (tmp_path / "ja").mkdir()
    (tmp_path / "ja" / "greeting.mp3").write_bytes(b"ID3 recorded greeting")
    configure(app, prompts={"audio_dir": str(tmp_path)})
    doc = Caller(client).dial()
    plays = [play.text for play in doc.root.iter("Play")]
    assert plays == [f"{BASE}/voice/audio/ja/greeting.mp3"]
    assert "お電話ありがとうございます" not in doc.text
    served = client.get("/voice/audio/ja/greeting.mp3")
    assert served.status_code == 200 and served.data == b"ID3 recorded greeting"
    assert client.get("/voice/audio/ja/menu_intro.mp3").status_code == 404
    assert client.get("/voice/audio/xx/greeting.mp3").status_code == 404
