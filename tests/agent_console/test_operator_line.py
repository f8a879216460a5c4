"""The operator's side of a call behind one seam: the simulator and Twilio."""

from __future__ import annotations

from agent_console.services.operator_line import SimulatedOperatorLine, TwilioOperatorLine
from madoguchi.telephony.network import SimulatedCall, SimulatedNetwork, new_sid
from madoguchi.telephony.twilio_adapter import TwilioTelephony
from tests.madoguchi.telephony.test_twilio_adapter import ACCOUNT, CALL_SID, RecordingHttpClient


def _live(network: SimulatedNetwork, bridged_to: str, status: str = "in-progress") -> str:
    sid = new_sid("CA")
    network.save_call(SimulatedCall(sid=sid, direction="inbound", from_number="+819012345678",
                                    to_number="+81312345678", status=status,
                                    bridged_to=bridged_to))
    return sid


def test_on_the_simulator_a_call_is_bridged_only_to_the_operator_its_dial_reached(redis_client):
    network = SimulatedNetwork(redis_client)
    line = SimulatedOperatorLine(network)
    sid = _live(network, "client operator-7")
    assert line.is_bridged(sid, 7)
    assert not line.is_bridged(sid, 17)  # operator-17 is not operator-7
    assert not line.is_bridged(_live(network, ""), 7)
    assert not line.is_bridged(_live(network, "client operator-7", status="completed"), 7)


def test_on_the_simulator_the_operator_reads_the_callers_words_and_ends_the_dial(redis_client):
    network = SimulatedNetwork(redis_client)
    line = SimulatedOperatorLine(network)
    sid = _live(network, "client operator-3")
    network.say_to_operator(sid, "予約を取り消したい")
    assert line.heard(sid) == ["予約を取り消したい"]
    line.end(sid)
    control = network.take_control(sid)
    assert control is not None and control.action == "end-dial"


def test_on_twilio_ending_the_call_completes_it_through_the_rest_api():
    http = RecordingHttpClient(status=200)
    line = TwilioOperatorLine(TwilioTelephony(ACCOUNT, "secret-token", "+81312345678",
                                              http_client=http))
    assert line.heard(CALL_SID) == []  # the softphone carries the voice, not text
    line.end(CALL_SID)
    (sent,) = http.requests
    assert sent["uri"].endswith(f"/Calls/{CALL_SID}.json")
    assert sent["data"] == {"Status": "completed"}


def test_on_twilio_ending_a_call_that_is_already_over_is_done_not_an_error():
    # The caller hung up a moment before the operator pressed the button.
    http = RecordingHttpClient(status=404, body={"code": 20404, "status": 404,
                                                 "message": "The requested resource was not found"})
    line = TwilioOperatorLine(TwilioTelephony(ACCOUNT, "secret-token", "+81312345678",
                                              http_client=http))
    line.end(CALL_SID)
    assert len(http.requests) == 1
