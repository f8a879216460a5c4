"""The resident's side of an outbound call: answer it, let it ring out, be busy, or a machine."""

from __future__ import annotations

from madoguchi.telephony.caller import Caller
from madoguchi.telephony.engine import CallEngine, CallResult, CallSetup
from madoguchi.telephony.network import SimulatedCall

ANSWERS = ("human", "machine", "busy", "no-answer")


def answer_call(engine: CallEngine, call: SimulatedCall, answer: str, caller: Caller) -> CallResult:
    """Resolve a ringing call as the resident's phone; the engine plays its url if answered."""
    if answer not in ANSWERS:
        raise ValueError(f"answer must be one of {', '.join(ANSWERS)}, not {answer!r}")
    answered_by = ""
    if call.machine_detection:
        answered_by = "machine_start" if answer == "machine" else "human"
    setup = CallSetup(
        url=call.url,
        from_number=call.from_number,
        to_number=call.to_number,
        direction=call.direction,
        call_sid=call.sid,
        status_callback=call.status_callback,
        answered_by=answered_by,
    )
    if answer in ("busy", "no-answer"):
        return engine.unanswered(setup, answer, ring_seconds=call.timeout_seconds)
    return engine.run(setup, caller)
