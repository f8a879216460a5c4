"""Keys pressed in one go at a one-key question: heard by the next question, or lost."""

from __future__ import annotations

from madoguchi.telephony.engine import CallSetup
from madoguchi.telephony.script import ScriptCaller, parse_script

ONE_KEY = ("<Response><Gather input='dtmf' numDigits='1' action='{action}' "
           "actionOnEmptyResult='true'><Say>{text}</Say></Gather></Response>")


def _call(call_engine, twiml_server, script: str):
    caller = ScriptCaller(parse_script(script))
    result = call_engine.run(CallSetup(url=twiml_server.url("/menu"),
                                       from_number="+819012345678"), caller)
    caller.call_ended()
    return result, caller


def test_star_then_one_at_a_one_key_menu_reaches_the_next_question_as_one(
    call_engine, twiml_server
):
    twiml_server.serve("/menu", lambda p: ONE_KEY.format(action="/again", text="ご予約は1を"))
    twiml_server.serve("/again", lambda p: ONE_KEY.format(action="/chosen", text="はい、どうぞ"))
    twiml_server.serve("/chosen", lambda p: f"<Response><Say>{p['Digits']}番</Say></Response>")
    _, caller = _call(call_engine, twiml_server, "press *1\nexpect 1番\n")
    assert caller.failure is None
    digits = [item.params.get("Digits") for item in twiml_server.received[1:]]
    assert digits == ["*", "1"]


def test_keys_left_over_are_lost_when_the_line_talks_before_listening(
    call_engine, twiml_server
):
    twiml_server.serve("/menu", lambda p: ONE_KEY.format(action="/said", text="ご予約は1を"))
    twiml_server.serve("/said", "<Response><Say>少々お待ちください</Say>"
                                "<Gather input='dtmf' numDigits='1' action='/chosen'>"
                                "<Say>どうぞ</Say></Gather></Response>")
    twiml_server.serve("/chosen", lambda p: f"<Response><Say>{p['Digits']}番</Say></Response>")
    result, _ = _call(call_engine, twiml_server, "press 12\npress 3\nexpect 3番\n")
    assert "keys 2 pressed while nobody listens: lost" in [e.text for e in result.heard]
    assert twiml_server.received[-1].params["Digits"] == "3"
