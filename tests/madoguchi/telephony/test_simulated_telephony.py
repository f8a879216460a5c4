"""SimulatedTelephony puts calls and texts in the shared Redis ledger; phones resolve them."""

from __future__ import annotations

import pytest

from madoguchi.telephony import get_telephony
from madoguchi.telephony.base import TelephonyError
from madoguchi.telephony.engine import CallSetup
from madoguchi.telephony.network import SimulatedNetwork
from madoguchi.telephony.outbound import answer_call
from madoguchi.telephony.script import ScriptCaller, parse_script
from madoguchi.telephony.simulated import SimulatedTelephony

RESIDENT = "+819012345678"


@pytest.fixture
def telephony(network) -> SimulatedTelephony:
    return SimulatedTelephony(network, "+81312345678")


def test_the_app_without_twilio_credentials_uses_the_simulator(app, redis_client):
    with app.app_context():
        assert isinstance(get_telephony(), SimulatedTelephony)
        assert get_telephony() is get_telephony()


def test_an_sms_is_readable_by_any_process_and_its_key_names_no_number(telephony, redis_client):
    sid = telephony.send_sms(RESIDENT, "予約番号は 1234567 です")
    other_process = SimulatedNetwork(redis_client)
    (sms,) = other_process.messages(RESIDENT)
    assert (sms.sid, sms.body, sms.from_number) == (sid, "予約番号は 1234567 です", "+81312345678")
    assert other_process.messages("+819099999999") == []
    assert not [key for key in redis_client.keys("*") if b"12345678" in key]


def test_a_placed_call_rings_until_the_residents_phone_picks_it_up(telephony, network):
    sid = telephony.place_call(RESIDENT, url="https://city.example/cb", status_callback="",
                               timeout_seconds=40, machine_detection=False)
    assert [call.sid for call in network.ringing_calls()] == [sid]
    assert network.pick_up("+819000000000") is None
    picked = network.pick_up(RESIDENT)
    assert picked is not None and picked.sid == sid and picked.url == "https://city.example/cb"
    assert network.pick_up(RESIDENT) is None  # only one phone can claim a ring


def test_hanging_up_a_ringing_call_cancels_it(telephony, network):
    sid = telephony.place_call(RESIDENT, url="https://city.example/cb", status_callback="",
                               timeout_seconds=40, machine_detection=False)
    telephony.hangup(sid)
    assert network.ringing_calls() == []
    assert network.get_call(sid).status == "canceled"
    with pytest.raises(TelephonyError, match="already ended"):
        telephony.hangup(sid)


def test_redirecting_an_unknown_call_is_a_clear_error(telephony):
    with pytest.raises(TelephonyError, match="unknown"):
        telephony.redirect_call("CA" + "0" * 32, "https://city.example/x")


def test_an_answered_callback_runs_its_url_as_an_outbound_call(telephony, network, call_engine,
                                                               twiml_server):
    twiml_server.serve("/cb", "<Response><Say>みどり市からのお電話です</Say></Response>")
    twiml_server.serve("/status", "")
    sid = telephony.place_call(RESIDENT, url=twiml_server.url("/cb"),
                               status_callback=twiml_server.url("/status"),
                               timeout_seconds=40, machine_detection=True)
    call = network.pick_up(RESIDENT)
    result = answer_call(call_engine, call, "human", ScriptCaller(parse_script(
        "expect みどり市")))
    first = twiml_server.received[0].params
    assert (first["CallSid"], first["Direction"], first["To"]) == (sid, "outbound-api", RESIDENT)
    assert first["AnsweredBy"] == "human"
    status = twiml_server.received[-1].params
    assert status["CallStatus"] == "completed"
    assert "みどり市からのお電話です" in result.spoken
    assert network.get_call(sid).status == "completed"


def test_an_answering_machine_is_reported_as_machine_start(telephony, network, call_engine,
                                                           twiml_server):
    twiml_server.serve("/cb", "<Response><Hangup/></Response>")
    telephony.place_call(RESIDENT, url=twiml_server.url("/cb"), status_callback="",
                         timeout_seconds=40, machine_detection=True)
    answer_call(call_engine, network.pick_up(RESIDENT), "machine", ScriptCaller([]))
    assert twiml_server.received[0].params["AnsweredBy"] == "machine_start"


@pytest.mark.parametrize("answer", ["busy", "no-answer"])
def test_a_busy_or_unanswered_phone_only_reports_its_status(answer, telephony, network,
                                                            call_engine, twiml_server):
    twiml_server.serve("/cb", "<Response><Say>never</Say></Response>")
    twiml_server.serve("/status", "")
    sid = telephony.place_call(RESIDENT, url=twiml_server.url("/cb"),
                               status_callback=twiml_server.url("/status"),
                               timeout_seconds=40, machine_detection=False)
    answer_call(call_engine, network.pick_up(RESIDENT), answer, ScriptCaller([]))
    assert twiml_server.paths() == ["/status"]
    assert twiml_server.received[0].params["CallStatus"] == answer
    assert twiml_server.received[0].params["CallSid"] == sid
    assert network.get_call(sid).status == answer


def test_the_seam_can_hang_up_a_live_call_from_another_process(telephony, network, call_engine,
                                                               twiml_server):
    def wait(params):
        telephony.hangup(params["CallSid"])
        return "<Response><Say>お待ちください</Say></Response>"

    twiml_server.serve("/start", "<Response><Enqueue waitUrl='/wait'>line</Enqueue></Response>")
    twiml_server.serve("/wait", wait)
    result = call_engine.run(
        CallSetup(url=twiml_server.url("/start"), from_number=RESIDENT),
        ScriptCaller(parse_script("wait\nwait\nwait")))
    assert result.ended_by == "remote"
    assert network.queue_size("line") == 0
