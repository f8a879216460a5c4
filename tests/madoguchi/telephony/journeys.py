"""Caller scripts and steps that several whole-call tests play against a served line."""

from __future__ import annotations

from madoguchi.telephony.engine import CallEngine, CallResult, CallSetup
from madoguchi.telephony.network import SimulatedCall
from madoguchi.telephony.outbound import answer_call
from madoguchi.telephony.script import ScriptCaller, parse_script


def hold_then_callback(place: int = 1) -> str:
    """A caller asks for a person, hears their place in line and asks to be called back as soon
    as possible on the mobile number they call from."""
    return f"""
        press 0
        expect {place}番目
        press 1
        expect 0 9 0
        press 1
        expect できるだけ早く
        press 1
        expect 承りました
        hangup
    """


def play(engine: CallEngine, setup: CallSetup, script: str) -> CallResult:
    """One call played from a script to its end; fails the test on the script's complaint."""
    caller = ScriptCaller(parse_script(script))
    result = engine.run(setup, caller)
    caller.call_ended()
    assert caller.failure is None, f"{caller.failure}\n--- the line said:\n{result.spoken()}"
    return result


def answer_callback(engine: CallEngine, ringing: SimulatedCall) -> CallResult:
    """The resident answers the ringing callback and hears the city say it is calling back."""
    answered = ScriptCaller(parse_script("expect 折り返し\nhangup"))
    result = answer_call(engine, ringing, "human", answered)
    answered.call_ended()
    assert answered.failure is None, result.spoken()
    return result
