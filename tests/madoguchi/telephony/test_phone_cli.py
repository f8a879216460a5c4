"""The script format and the `phone` command, played against a real HTTP server."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from madoguchi.telephony.caller import HangUp, Moment, Press, Speak, Wait
from madoguchi.telephony.phone_cli import INCOMING_PATH, phone
from madoguchi.telephony.script import ScriptError, parse_script
from madoguchi.telephony.terminal import TerminalCaller, read_action

from .conftest import AUTH_TOKEN

MENU = ("<Response><Gather input='dtmf speech' action='/menu' numDigits='1' timeout='8'>"
        "<Say>ご予約は1を<break time='500ms'/>押してください</Say></Gather>"
        "<Redirect>/voice/incoming</Redirect></Response>")


@pytest.fixture
def env(base_env, twiml_server):
    return {**base_env, "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PUBLIC_BASE_URL": twiml_server.base_url}


def test_a_script_is_read_line_by_line_with_comments():
    steps = parse_script("# journey\npress *1\n\nsay 予約\nwait\nexpect 予約番号\nhangup\n")
    assert [(s.action, s.argument, s.line_no) for s in steps] == [
        ("press", "*1", 2), ("say", "予約", 4), ("wait", "", 5), ("expect", "予約番号", 6),
        ("hangup", "", 7)]


@pytest.mark.parametrize(("text", "message"), [
    ("pres 1", "line 1: unknown action 'pres'"),
    ("press 1a", "line 1: press needs keys"),
    ("# c\nexpect", "line 2: expect needs text"),
    ("wait 5", "line 1: wait takes nothing"),
])
def test_a_wrong_script_line_is_named_with_how_to_fix_it(text, message):
    with pytest.raises(ScriptError, match=message):
        parse_script(text)


def test_typed_lines_mean_keys_speech_waiting_or_hanging_up():
    assert read_action("*1") == Press("*1")
    assert read_action("say 予約") == Speak("予約")
    assert read_action("予約したい") == Speak("予約したい")
    assert read_action("") == Wait()
    assert read_action("hangup") == HangUp()


def test_the_script_passes_when_every_expected_phrase_is_heard(env, twiml_server, tmp_path):
    twiml_server.serve(INCOMING_PATH, MENU)
    twiml_server.serve("/menu", lambda p: f"<Response><Say>{p.get('Digits')}番ですね。"
                                          "予約番号は 123 4567 です</Say></Response>")
    journey = tmp_path / "journey.txt"
    journey.write_text("expect ご予約は1を\npress *1\nexpect 予約番号は\n", encoding="utf-8")
    result = CliRunner().invoke(phone, ["--script", str(journey), "--from", "090-1234-5678"],
                                env=env)
    assert result.exit_code == 0, result.output
    assert "» ご予約は1を … 押してください" in result.output
    assert "✓ script passed" in result.output
    assert twiml_server.received[0].params["From"] == "+819012345678"


def test_the_script_fails_clearly_when_a_phrase_is_not_heard(env, twiml_server, tmp_path):
    twiml_server.serve(INCOMING_PATH, MENU)
    journey = tmp_path / "journey.txt"
    journey.write_text("expect 混雑しています\npress 1\n", encoding="utf-8")
    result = CliRunner().invoke(phone, ["--script", str(journey)], env=env)
    assert result.exit_code == 1
    assert "line 1: expected '混雑しています'" in result.output
    assert "ご予約は1を" in result.output


def test_a_withheld_call_sends_twilios_anonymous_caller_id(env, twiml_server, tmp_path):
    twiml_server.serve(INCOMING_PATH, "<Response><Say>番号を押してください</Say></Response>")
    journey = tmp_path / "j.txt"
    journey.write_text("expect 番号を\n", encoding="utf-8")
    result = CliRunner().invoke(phone, ["--script", str(journey), "--withheld"], env=env)
    assert result.exit_code == 0, result.output
    assert twiml_server.received[0].params["From"] == "+266696687"


def test_an_unusable_from_number_is_refused_with_an_example(env, tmp_path):
    result = CliRunner().invoke(phone, ["--from", "12ab"], env=env)
    assert result.exit_code == 2
    assert "09012345678" in result.output


def test_the_terminal_phone_prints_the_line_and_reads_keys(env, twiml_server):
    twiml_server.serve(INCOMING_PATH, MENU)
    twiml_server.serve("/menu", lambda p: f"<Response><Say>{p['Digits']}を受け付けました</Say>"
                                          "<Hangup/></Response>")
    result = CliRunner().invoke(phone, ["--lang", "en"], input="1\n", env=env)
    assert result.exit_code == 0, result.output
    assert "» 1を受け付けました" in result.output
    assert "keys 0-9 * #" in result.output


def test_end_of_input_at_the_terminal_hangs_up():
    lines = []
    caller = TerminalCaller(print_line=lines.append, read_line=_eof)
    assert caller.act(Moment("gather", True, 8)) == HangUp()


def _eof(prompt, seconds=None):
    raise EOFError


def test_a_question_left_unanswered_times_out_by_itself_as_silence():
    asked, lines = [], []

    def nobody_types(prompt, seconds):
        asked.append(seconds)
        return None

    caller = TerminalCaller(print_line=lines.append, read_line=nobody_types,
                            clock=iter([100.0, 108.0]).__next__)
    action = caller.act(Moment("gather", True, 8, language="ja-JP"))
    assert asked == [8.0]  # the question's own timeout
    assert action == Wait(waited_seconds=8.0)
    assert "（無言）" in lines[-1]


def test_silence_after_shortens_the_wait_but_never_lengthens_it():
    asked = []
    caller = TerminalCaller(print_line=lambda line: None,
                            read_line=lambda prompt, seconds: asked.append(seconds),
                            silence_seconds=3)
    caller.act(Moment("gather", True, 8))
    caller.act(Moment("gather", True, 2))
    assert asked == [3, 2]


def test_the_hints_follow_the_language_the_line_speaks():
    lines = []
    caller = TerminalCaller(print_line=lines.append, read_line=lambda prompt, seconds: "1",
                            hints="ja")
    caller.act(Moment("gather", True, 8, language="ja-JP"))
    caller.act(Moment("gather", True, 8, language="en-US"))
    assert any("ボタン" in line for line in lines)
    assert any("keys 0-9" in line for line in lines)


def test_a_fixed_hint_language_stays_whatever_the_line_speaks():
    lines = []
    caller = TerminalCaller(print_line=lines.append, read_line=lambda prompt, seconds: "1",
                            hints="en", follow_line=False)
    caller.act(Moment("gather", True, 8, language="ja-JP"))
    assert not any("ボタン" in line for line in lines)

