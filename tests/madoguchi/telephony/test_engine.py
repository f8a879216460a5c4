"""The simulator plays TwiML the way Twilio does, against a real HTTP server."""

from __future__ import annotations

from madoguchi.telephony.caller import HangUp, LineEvent, Moment, Press, Speak, Wait
from madoguchi.telephony.engine import CallEngine, CallSetup
from madoguchi.telephony.network import Control
from madoguchi.telephony.script import ScriptCaller, parse_script

from .conftest import AUTH_TOKEN


def script(text: str) -> ScriptCaller:
    return ScriptCaller(parse_script(text))


class RecordingCaller:
    """Acts from a list, one action per moment of the given kinds; hears everything."""

    def __init__(self, actions, kinds=("gather", "record", "hold", "bridged")):
        self.actions = list(actions)
        self.kinds = kinds
        self.moments: list[Moment] = []
        self.heard: list[LineEvent] = []

    def hear(self, event):
        self.heard.append(event)

    def act(self, moment):
        self.moments.append(moment)
        if moment.kind not in self.kinds:
            return None
        return self.actions.pop(0) if self.actions else HangUp()


def run(call_engine, server, path, caller, **setup):
    return call_engine.run(CallSetup(url=server.url(path), from_number="+819012345678",
                                     to_number="+81312345678", **setup), caller)


def test_say_is_heard_and_a_document_without_more_verbs_ends_the_call(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Say>こんにちは<break time='500ms'/>みどり市です"
                                 "</Say></Response>")
    result = run(call_engine, twiml_server, "/start", script("expect みどり市"))
    assert [e.text for e in result.heard if e.kind == "say"] == ["こんにちは … みどり市です"]
    assert result.ended_by == "no-more-verbs"
    assert result.status == "completed"


def test_webhooks_carry_twilio_parameters_and_a_valid_signature(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Redirect>/next</Redirect></Response>")
    twiml_server.serve("/next", "<Response><Hangup/></Response>")
    run(call_engine, twiml_server, "/start", script(""))
    first, second = twiml_server.received
    assert first.signed and second.signed
    assert first.params["CallStatus"] == "ringing"
    assert second.params["CallStatus"] == "in-progress"
    assert first.params["From"] == "+819012345678"
    assert first.params["Direction"] == "inbound"
    assert first.params["CallSid"].startswith("CA") and len(first.params["CallSid"]) == 34
    assert {"AccountSid", "To", "Caller", "Called", "ApiVersion"} <= set(first.params)


def test_a_wrong_auth_token_is_refused_by_the_app_and_the_call_ends_in_error(twiml_server):
    twiml_server.serve("/start", "<Response><Say>hello</Say></Response>")
    result = run(CallEngine("not-the-token"), twiml_server, "/start", script(""))
    assert twiml_server.received[0].signed is False
    assert result.ended_by == "error"
    assert result.error_code == 11200
    assert result.spoken.endswith("an application error has occurred. Goodbye.")


def test_gather_posts_digits_to_its_action(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Gather action='/menu' numDigits='1' timeout='8'>"
                                 "<Say>予約は1を</Say></Gather></Response>")
    twiml_server.serve("/menu", lambda p: f"<Response><Say>押したのは{p['Digits']}</Say>"
                                          "<Hangup/></Response>")
    result = run(call_engine, twiml_server, "/start", script("press *1"))
    assert twiml_server.received[1].path == "/menu"
    # numDigits=1: the leading * fills the Gather, as on Twilio; the 1 is lost.
    assert twiml_server.received[1].params["Digits"] == "*"
    assert "押したのは*" in result.spoken
    assert result.ended_by == "twiml"


def test_gather_without_num_digits_collects_until_the_finish_key(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Gather action='/menu'><Say>番号を</Say></Gather>"
                                 "</Response>")
    twiml_server.serve("/menu", "<Response><Hangup/></Response>")
    run(call_engine, twiml_server, "/start", script("press *1234#"))
    assert twiml_server.received[1].params["Digits"] == "*1234"
    assert twiml_server.received[1].params["FinishedOnKey"] == "#"


def test_gather_without_action_posts_back_to_the_current_document(call_engine, twiml_server):
    twiml_server.serve("/start", lambda p: "<Response><Hangup/></Response>" if p.get("Digits")
                       else "<Response><Gather numDigits='1'><Say>どうぞ</Say></Gather></Response>")
    run(call_engine, twiml_server, "/start", script("press 3"))
    assert twiml_server.paths() == ["/start", "/start"]
    assert twiml_server.received[1].params["Digits"] == "3"


def test_a_silent_gather_runs_the_next_verb_and_silence_then_hangs_up(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Gather action='/menu' timeout='8'><Say>押してください"
                                 "</Say></Gather><Say>お待ちください</Say></Response>")
    caller = script("wait\nexpect お待ちください")
    result = run(call_engine, twiml_server, "/start", caller)
    caller.call_ended()
    assert caller.failure is None
    assert twiml_server.paths() == ["/start"]  # no request to /menu
    assert result.ended_by == "no-more-verbs"  # the hang-up bug the simulator must reveal
    assert result.duration_seconds >= 8


def test_a_silent_gather_with_action_on_empty_result_posts_empty_digits(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Gather action='/menu' actionOnEmptyResult='true'>"
                                 "<Say>押してください</Say></Gather></Response>")
    twiml_server.serve("/menu", "<Response><Hangup/></Response>")
    run(call_engine, twiml_server, "/start", script("wait"))
    assert twiml_server.received[1].path == "/menu"
    assert twiml_server.received[1].params["Digits"] == ""


def test_speech_is_sent_as_speech_result_when_the_gather_takes_speech(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Gather input='dtmf speech' action='/menu' "
                                 "language='ja-JP'><Say>ご用件を</Say></Gather></Response>")
    twiml_server.serve("/menu", "<Response><Hangup/></Response>")
    run(call_engine, twiml_server, "/start", script("say 予約"))
    assert twiml_server.received[1].params["SpeechResult"] == "予約"
    assert "Digits" not in twiml_server.received[1].params


def test_speech_to_a_keys_only_gather_counts_as_silence(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Gather action='/menu'><Say>押して</Say></Gather>"
                                 "<Say>もう一度</Say></Response>")
    result = run(call_engine, twiml_server, "/start", script("say 予約"))
    assert twiml_server.paths() == ["/start"]
    assert "もう一度" in result.spoken


def test_keys_pressed_while_no_gather_listens_are_lost(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Say>お知らせです</Say><Gather action='/menu' "
                                 "numDigits='1'><Say>どうぞ</Say></Gather></Response>")
    twiml_server.serve("/menu", "<Response><Hangup/></Response>")
    caller = RecordingCaller([Press("1"), Wait()], kinds=("line", "gather"))
    result = run(call_engine, twiml_server, "/start", caller)
    assert any("lost" in event.text for event in result.heard if event.kind == "notice")
    assert twiml_server.paths() == ["/start"]  # the 1 never reached the app


def test_redirect_follows_relative_urls_with_get(call_engine, twiml_server):
    twiml_server.serve("/a/start", "<Response><Redirect method='GET'>next?x=1</Redirect>"
                                   "</Response>")
    twiml_server.serve("/a/next", "<Response><Say>着きました</Say></Response>")
    result = run(call_engine, twiml_server, "/a/start", script(""))
    assert twiml_server.received[1].method == "GET"
    assert twiml_server.received[1].params["x"] == "1"
    assert twiml_server.received[1].signed
    assert "着きました" in result.spoken


def test_enqueue_rerequests_the_wait_url_and_leave_reaches_the_action(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Enqueue waitUrl='/wait' action='/after'>line"
                                 "</Enqueue></Response>")
    visits = []

    def wait(params):
        visits.append(params)
        if len(visits) < 3:
            return f"<Response><Say>{params['QueuePosition']}番目です</Say></Response>"
        return "<Response><Leave/></Response>"

    twiml_server.serve("/wait", wait)
    twiml_server.serve("/after", lambda p: f"<Response><Say>{p['QueueResult']}</Say></Response>")
    result = run(call_engine, twiml_server, "/start", script("expect 1番目\nwait\nwait\nwait"))
    assert len(visits) == 3
    assert {"QueuePosition", "QueueTime", "AvgQueueTime", "CurrentQueueSize",
            "MaxQueueSize", "QueueSid"} <= set(visits[0])
    assert visits[0]["QueuePosition"] == "1" and visits[0]["CurrentQueueSize"] == "1"
    assert int(visits[2]["QueueTime"]) > int(visits[0]["QueueTime"])
    after = twiml_server.received[-1]
    assert after.path == "/after" and after.params["QueueResult"] == "leave"
    assert "leave" in result.spoken


def test_queue_position_counts_calls_waiting_in_other_processes(call_engine, twiml_server,
                                                                network):
    network.join_queue("line", "CA" + "1" * 32)
    network.report_wait("line", "CA" + "1" * 32, 120)
    twiml_server.serve("/start", "<Response><Enqueue waitUrl='/wait' action='/after'>line"
                                 "</Enqueue></Response>")
    twiml_server.serve("/wait", "<Response><Leave/></Response>")
    twiml_server.serve("/after", "<Response><Hangup/></Response>")
    run(call_engine, twiml_server, "/start", script(""))
    wait = twiml_server.received[1].params
    standing = (wait["QueuePosition"], wait["CurrentQueueSize"], wait["AvgQueueTime"])
    assert standing == ("2", "2", "60")
    assert network.queue_size("line") == 1  # this call left; the other still waits


def test_a_caller_hanging_up_on_hold_reports_hangup_to_the_enqueue_action(call_engine,
                                                                          twiml_server):
    twiml_server.serve("/start", "<Response><Enqueue waitUrl='/wait' action='/after'>line"
                                 "</Enqueue></Response>")
    twiml_server.serve("/wait", "<Response><Say>お待ちください</Say></Response>")
    twiml_server.serve("/after", "<Response><Say>never heard</Say></Response>")
    result = run(call_engine, twiml_server, "/start", script("expect お待ちください\nhangup"))
    assert twiml_server.received[-1].params["QueueResult"] == "hangup"
    assert result.ended_by == "caller"
    assert "never heard" not in result.spoken


def test_a_broken_wait_url_ends_the_wait_with_error(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Enqueue waitUrl='/wait' action='/after'>line"
                                 "</Enqueue></Response>")
    twiml_server.serve("/wait", "<Response><Dial>0312345678</Dial></Response>")
    twiml_server.serve("/after", lambda p: f"<Response><Say>{p['QueueResult']}</Say></Response>")
    result = run(call_engine, twiml_server, "/start", script(""))
    assert twiml_server.received[-1].params["QueueResult"] == "error"
    assert "error" in result.spoken


def test_a_live_redirect_takes_the_caller_off_hold(call_engine, twiml_server, network):
    twiml_server.serve("/start", "<Response><Enqueue waitUrl='/wait'>line</Enqueue></Response>")

    def wait(params):
        network.send_control(params["CallSid"], Control("redirect", twiml_server.url("/op")))
        return "<Response><Say>お待ちください</Say></Response>"

    twiml_server.serve("/wait", wait)
    twiml_server.serve("/op", "<Response><Say>係につなぎます</Say><Hangup/></Response>")
    result = run(call_engine, twiml_server, "/start", script(""))
    assert "係につなぎます" in result.spoken
    assert network.queue_size("line") == 0


def test_hangup_ends_the_call_and_invalid_xml_is_an_application_error(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Say>途中で</Say><Redirect>/bad</Redirect></Response>")
    twiml_server.serve("/bad", "<Response><Say>閉じていない</Response>")
    result = run(call_engine, twiml_server, "/start", script(""))
    assert result.ended_by == "error"
    assert result.error_code == 12100


def test_an_unknown_verb_goes_to_the_fallback_url_with_the_error(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Sey>typo</Sey></Response>")
    twiml_server.serve("/fallback", "<Response><Say>申し訳ありません</Say></Response>")
    result = run(call_engine, twiml_server, "/start", script(""),
                 fallback_url=twiml_server.url("/fallback"))
    fallback = twiml_server.received[-1]
    assert fallback.path == "/fallback"
    assert fallback.params["ErrorCode"] == "12200"
    assert fallback.params["ErrorUrl"] == twiml_server.url("/start")
    assert "申し訳ありません" in result.spoken


def test_plain_text_is_spoken_and_other_content_types_are_errors(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Say>x</Say></Response>")
    twiml_server.content_type = "application/json"
    result = run(call_engine, twiml_server, "/start", script(""))
    assert result.error_code == 12300


def test_dial_bridges_to_the_operator_until_they_hang_up(call_engine, twiml_server, network):
    twiml_server.serve("/start", "<Response><Dial action='/dialed'><Client>operator-7</Client>"
                                 "</Dial></Response>")
    twiml_server.serve("/dialed", lambda p: f"<Response><Say>{p['DialCallStatus']}</Say>"
                                            "</Response>")

    class Talker(RecordingCaller):
        def act(self, moment):
            if moment.kind == "bridged" and not self.actions:
                network.end_dial(result_sid[0])
                return Wait()
            return super().act(moment)

    result_sid = []
    caller = Talker([Speak("予約したいです")], kinds=("bridged",))
    setup = CallSetup(url=twiml_server.url("/start"), from_number="+819012345678")
    result_sid.append(setup.call_sid)
    result = call_engine.run(setup, caller)
    assert any("client operator-7" in e.text for e in result.heard if e.kind == "dial")
    assert network.transcript(setup.call_sid) == ["予約したいです"]
    assert "completed" in result.spoken


DIAL_WITH_LEG_STATUS = ("<Response><Dial action='/dialed'><Client statusCallback='/leg'"
                        " statusCallbackEvent='completed'>operator-7</Client></Dial>"
                        "<Say>never heard</Say></Response>")


def test_a_caller_hanging_up_while_bridged_ends_the_leg_and_still_asks_the_dial_action(
        call_engine, twiml_server):
    twiml_server.serve("/start", DIAL_WITH_LEG_STATUS)
    twiml_server.serve("/dialed", "<Response><Say>not heard either</Say></Response>")
    twiml_server.serve("/leg", "")
    twiml_server.serve("/status", "")
    result = run(call_engine, twiml_server, "/start", RecordingCaller([Speak("もしもし")]),
                 status_callback=twiml_server.url("/status"))
    assert result.ended_by == "caller" and "not heard" not in result.spoken
    assert twiml_server.paths() == ["/start", "/leg", "/dialed", "/status"]
    leg, action, status = (item.params for item in twiml_server.received[1:])
    assert (leg["CallStatus"], leg["ParentCallSid"], leg["To"]) == (
        "completed", result.call_sid, "client:operator-7")
    assert (action["CallStatus"], action["DialCallStatus"]) == ("completed", "completed")
    assert action["DialCallSid"] == leg["CallSid"] != result.call_sid
    assert status["CallStatus"] == "completed"


def test_an_operator_hanging_up_ends_the_leg_before_the_dial_action(
        call_engine, twiml_server, network):
    twiml_server.serve("/start", DIAL_WITH_LEG_STATUS)
    twiml_server.serve("/dialed", "<Response><Say>ありがとうございました</Say></Response>")
    twiml_server.serve("/leg", "")
    setup = CallSetup(url=twiml_server.url("/start"), from_number="+819012345678")

    class OperatorEnds(RecordingCaller):
        def act(self, moment):
            if moment.kind == "bridged":
                network.end_dial(setup.call_sid)
                return Wait()
            return super().act(moment)

    result = call_engine.run(setup, OperatorEnds([]))
    assert twiml_server.paths() == ["/start", "/leg", "/dialed"]
    assert twiml_server.received[2].params["CallStatus"] == "in-progress"
    assert "ありがとうございました" in result.spoken


def test_record_posts_the_recording_to_its_action(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Say>メッセージをどうぞ</Say><Record action='/rec'"
                                 " maxLength='60'/></Response>")
    twiml_server.serve("/rec", "<Response><Hangup/></Response>")
    run(call_engine, twiml_server, "/start", script("say 折り返しお願いします"))
    params = twiml_server.received[-1].params
    assert params["RecordingSid"].startswith("RE")
    assert params["RecordingUrl"].endswith(params["RecordingSid"])
    assert int(params["RecordingDuration"]) >= 1


def test_status_callbacks_come_at_the_end_with_sequence_numbers(network, twiml_server):
    twiml_server.serve("/start", "<Response><Say>はい</Say></Response>")
    twiml_server.serve("/status", "")
    events = ("initiated", "ringing", "answered", "completed")
    in_order = CallEngine(AUTH_TOKEN, network=network)
    run(in_order, twiml_server, "/start", script(""), status_callback=twiml_server.url("/status"),
        status_events=events)
    callbacks = [r.params for r in twiml_server.received if r.path == "/status"]
    assert [c["SequenceNumber"] for c in callbacks] == ["0", "1", "2", "3"]
    assert [c["CallStatus"] for c in callbacks] == ["queued", "ringing", "in-progress",
                                                    "completed"]
    assert "CallDuration" in callbacks[-1]


def test_status_callbacks_can_arrive_out_of_order_when_configured(network, twiml_server):
    twiml_server.serve("/start", "<Response><Say>はい</Say></Response>")
    twiml_server.serve("/status", "")
    shuffled = CallEngine(AUTH_TOKEN, network=network, status_callbacks_shuffled=True)
    events = ("initiated", "ringing", "answered", "completed")
    orders = set()
    for _ in range(12):
        twiml_server.received.clear()
        run(shuffled, twiml_server, "/start", script(""), status_callback=twiml_server.url(
            "/status"), status_events=events)
        orders.add(tuple(r.params["SequenceNumber"] for r in twiml_server.received
                         if r.path == "/status"))
    assert len(orders) > 1
    assert all(sorted(order) == ["0", "1", "2", "3"] for order in orders)


def test_a_request_loop_is_cut_off_instead_of_running_forever(network, twiml_server):
    twiml_server.serve("/start", "<Response><Redirect>/start</Redirect></Response>")
    result = run(CallEngine(AUTH_TOKEN, network=network, max_requests=20), twiml_server,
                 "/start", script(""))
    assert result.ended_by == "request-limit"
    assert len(twiml_server.received) == 20


def test_silence_a_caller_already_kept_is_not_waited_again(call_engine, twiml_server):
    twiml_server.serve("/start", "<Response><Gather timeout='8' action='/next' "
                                 "actionOnEmptyResult='true'><Say>どうぞ</Say></Gather></Response>")
    twiml_server.serve("/next", "<Response><Hangup/></Response>")
    started = call_engine.clock.now()
    run(call_engine, twiml_server, "/start", RecordingCaller([Wait(waited_seconds=6.0)]))
    assert twiml_server.received[-1].params["Digits"] == ""
    assert 2.0 <= call_engine.clock.now() - started < 6.0  # only what was left of the 8 s
