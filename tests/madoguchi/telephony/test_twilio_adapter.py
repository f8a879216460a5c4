"""TwilioTelephony sends exactly the REST requests Twilio expects (no network)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest
import requests
from twilio.http import HttpClient
from twilio.http.response import Response

from madoguchi.telephony import build_telephony, twilio_adapter
from madoguchi.telephony.base import (
    AccountRefused,
    CallNotLive,
    NetworkBusy,
    OutcomeUnknown,
    Telephony,
    TelephonyError,
)
from madoguchi.telephony.twilio_adapter import API_TIMEOUT_SECONDS, TwilioTelephony

ACCOUNT = "AC" + "a" * 32
CALL_SID = "CA" + "b" * 32


class RecordingHttpClient(HttpClient):
    """Answers every request with a canned Twilio response and remembers the request."""

    def __init__(self, status: int = 201, body: dict | None = None) -> None:
        super().__init__(logging.getLogger("test"), is_async=False)
        self.status = status
        self.body = body or {"sid": CALL_SID}
        self.requests: list[dict] = []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        self.requests.append({"method": method, "uri": uri, "data": data, "auth": auth})
        return Response(self.status, json.dumps(self.body))


def adapter(http: RecordingHttpClient) -> TwilioTelephony:
    return TwilioTelephony(ACCOUNT, "secret-token", "+81312345678", http_client=http)


def test_place_call_posts_to_the_calls_resource_with_callback_and_machine_detection():
    http = RecordingHttpClient()
    sid = adapter(http).place_call("+819012345678", url="https://city.example/voice/callback/7",
                                   status_callback="https://city.example/voice/status",
                                   timeout_seconds=40, machine_detection=True)
    assert sid == CALL_SID
    (sent,) = http.requests
    assert sent["method"] == "POST"
    assert sent["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert sent["auth"] == (ACCOUNT, "secret-token")
    assert sent["data"]["To"] == "+819012345678"
    assert sent["data"]["From"] == "+81312345678"
    assert sent["data"]["Url"] == "https://city.example/voice/callback/7"
    assert sent["data"]["StatusCallback"] == "https://city.example/voice/status"
    assert sent["data"]["Timeout"] == 40
    assert sent["data"]["MachineDetection"] == "Enable"


def test_place_call_without_machine_detection_does_not_ask_for_it():
    http = RecordingHttpClient()
    adapter(http).place_call("+819012345678", url="https://x.example/a", status_callback="",
                             timeout_seconds=30, machine_detection=False)
    assert "MachineDetection" not in http.requests[0]["data"]


def test_send_sms_posts_to_the_messages_resource():
    http = RecordingHttpClient(body={"sid": "SM" + "c" * 32})
    sid = adapter(http).send_sms("+819012345678", "予約番号 1234567")
    (sent,) = http.requests
    assert sid == "SM" + "c" * 32
    assert sent["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
    assert sent["data"] == {"To": "+819012345678", "From": "+81312345678",
                            "Body": "予約番号 1234567"}


def test_redirect_updates_the_live_call_url():
    http = RecordingHttpClient(status=200)
    adapter(http).redirect_call(CALL_SID, "https://city.example/voice/bridge/3")
    (sent,) = http.requests
    assert sent["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls/{CALL_SID}.json"
    assert sent["data"] == {"Url": "https://city.example/voice/bridge/3", "Method": "POST"}


def test_hangup_completes_the_call():
    http = RecordingHttpClient(status=200)
    adapter(http).hangup(CALL_SID)
    assert http.requests[0]["data"] == {"Status": "completed"}


def test_a_twilio_error_becomes_a_telephony_error_without_the_number():
    http = RecordingHttpClient(status=400, body={
        "code": 21211, "message": "The 'To' number +819012345678 is not a valid phone number.",
        "status": 400})
    with pytest.raises(TelephonyError) as caught:
        adapter(http).place_call("+819012345678", url="https://x.example/a", status_callback="",
                                 timeout_seconds=30, machine_detection=False)
    assert "21211" in str(caught.value)
    assert "12345678" not in str(caught.value).replace("21211", "")


class UnreachableTwilio(HttpClient):
    """Twilio out of reach or too slow: the HTTP library's own error, as Twilio's client passes
    it on."""

    def __init__(self, error: requests.RequestException) -> None:
        super().__init__(logging.getLogger("test"), is_async=False)
        self.error = error

    def request(self, *args, **kwargs):
        raise self.error


EVERY_API_CALL = {
    "send_sms": lambda t: t.send_sms("+819012345678", "予約番号 1234567"),
    "place_call": lambda t: t.place_call("+819012345678", url="https://x.example/a",
                                         status_callback="", timeout_seconds=30,
                                         machine_detection=False),
    "calls_placed_to": lambda t: t.calls_placed_to("+819012345678",
                                                   datetime(2026, 11, 23, tzinfo=UTC)),
    "call_status": lambda t: t.call_status(CALL_SID),
    "redirect_call": lambda t: t.redirect_call(CALL_SID, "https://x.example/b"),
    "hangup": lambda t: t.hangup(CALL_SID),
    "recordings_since": lambda t: t.recordings_since(datetime(2026, 11, 23, tzinfo=UTC)),
    "delete_recording": lambda t: t.delete_recording(
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/RE{'d' * 32}"),
    "parties_of": lambda t: t.parties_of(CALL_SID),
}


@pytest.mark.parametrize("error", [requests.ConnectionError("Connection aborted."),
                                   requests.ReadTimeout("Read timed out. (read timeout=5)")])
@pytest.mark.parametrize("call", EVERY_API_CALL.values(), ids=EVERY_API_CALL.keys())
def test_no_answer_from_twilio_is_an_unknown_outcome_from_every_api_call(error, call):
    # Twilio may have done it (placed the call, sent the text): the callers that would act
    # differently tell this apart from a refusal; the others handle it as a TelephonyError.
    with pytest.raises(OutcomeUnknown) as caught:
        call(adapter(UnreachableTwilio(error)))
    said = str(caught.value)
    assert f"Twilio did not answer ({type(error).__name__})" in said
    assert "12345678" not in said


@pytest.mark.parametrize("call", EVERY_API_CALL.values(), ids=EVERY_API_CALL.keys())
def test_twilio_never_reached_is_network_busy_nothing_having_been_asked(call):
    with pytest.raises(NetworkBusy, match="could not be reached"):
        call(adapter(UnreachableTwilio(requests.ConnectTimeout("Connection timed out"))))


def test_twilio_is_asked_with_a_timeout_so_a_webhook_still_answers_in_time(monkeypatch):
    asked_with: list[object] = []

    def send(_session, _request, **settings):
        asked_with.append(settings.get("timeout"))
        raise requests.ReadTimeout("Read timed out.")

    monkeypatch.setattr(requests.Session, "send", send)
    telephony = TwilioTelephony(ACCOUNT, "secret-token", "+81312345678")  # Twilio's own client
    with pytest.raises(OutcomeUnknown, match="did not answer"):
        telephony.send_sms("+819012345678", "予約番号 1234567")
    assert asked_with == [API_TIMEOUT_SECONDS]


CALL_OVER = {
    "not in progress": (400, {"code": 21220, "message": "Call is not in-progress. Cannot "
                                                         "redirect.", "status": 400}),
    "unknown call": (404, {"code": 20404, "message": "The requested resource was not found",
                           "status": 404}),
}


@pytest.mark.parametrize("answer", CALL_OVER.values(), ids=CALL_OVER.keys())
@pytest.mark.parametrize("action", ["redirect_call", "hangup"])
def test_a_call_twilio_says_is_over_cannot_be_redirected_or_hung_up(answer, action):
    # The dispatcher takes such a holder out of the line; any other failure keeps their place.
    with pytest.raises(CallNotLive, match=str(answer[1]["code"])):
        EVERY_API_CALL[action](adapter(RecordingHttpClient(*answer)))


CREATING = ("send_sms", "place_call")


BUSY = [(name, status) for name in EVERY_API_CALL for status in (429, 500, 503)
        # A text or a call may have been made before a 5xx came back: see the next test.
        if status == 429 or name not in CREATING]


@pytest.mark.parametrize("action,status", BUSY, ids=[f"{n}-{s}" for n, s in BUSY])
def test_a_busy_or_failing_twilio_is_network_busy_and_says_nothing_about_the_call(
        action, status):
    # Nothing was done and the same request may work in a moment: a callback dial is not
    # counted as an attempt, a holder is not taken out of the line.
    code = 20000 + status
    http = RecordingHttpClient(status, {"code": code, "message": "Busy", "status": status})
    with pytest.raises(NetworkBusy, match=str(code)) as caught:
        EVERY_API_CALL[action](adapter(http))
    assert not isinstance(caught.value, (CallNotLive, OutcomeUnknown))


@pytest.mark.parametrize("status", [500, 502, 503])
@pytest.mark.parametrize("action", CREATING)
def test_a_call_or_text_answered_with_a_5xx_may_have_been_made(action, status):
    # Only a 429 says nothing was made: a retried text or dial after a 5xx could come twice.
    http = RecordingHttpClient(status, {"code": 20500, "message": "Error", "status": status})
    with pytest.raises(OutcomeUnknown):
        EVERY_API_CALL[action](adapter(http))


REFUSED_ACCOUNT = [(name, status, code) for name in EVERY_API_CALL
                   for status, code in ((401, 20003), (403, 20005))]


@pytest.mark.parametrize("action,status,code", REFUSED_ACCOUNT,
                         ids=[f"{n}-{s}" for n, s, _ in REFUSED_ACCOUNT])
def test_credentials_twilio_refuses_hold_every_request_like_a_busy_network(
        action, status, code, caplog, monkeypatch):
    # A rotated auth token on launch day: no resident's callback attempt may be used up, and
    # no reminder given up, for what only the city's settings can mend; the log says which.
    monkeypatch.setattr(twilio_adapter, "_account_refused_told_at", [float("-inf")])
    http = RecordingHttpClient(status, {"code": code, "message": "Authenticate",
                                        "status": status})
    with caplog.at_level("ERROR", logger="madoguchi.telephony.twilio_adapter"), \
            pytest.raises(AccountRefused, match=str(code)) as caught:
        EVERY_API_CALL[action](adapter(http))
    assert isinstance(caught.value, NetworkBusy)
    assert not isinstance(caught.value, (CallNotLive, OutcomeUnknown))
    assert "TWILIO_AUTH_TOKEN" in caplog.text
    assert "secret-token" not in caplog.text and ACCOUNT not in caplog.text


def test_a_spell_of_refused_credentials_is_logged_once_a_minute(caplog, monkeypatch):
    monkeypatch.setattr(twilio_adapter, "_account_refused_told_at", [float("-inf")])
    http = RecordingHttpClient(401, {"code": 20003, "message": "Authenticate", "status": 401})
    with caplog.at_level("ERROR", logger="madoguchi.telephony.twilio_adapter"):
        for _ in range(5):
            with pytest.raises(AccountRefused):
                EVERY_API_CALL["redirect_call"](adapter(http))
    assert caplog.text.count("Twilio refused this account") == 1


def test_refused_credentials_are_told_once_a_minute_across_processes(
        caplog, monkeypatch, redis_client):
    # The worker forks a process per job: each would say it anew without a mark in Redis.
    redis_client.delete(twilio_adapter.ACCOUNT_REFUSED_TOLD_KEY)
    http = RecordingHttpClient(401, {"code": 20003, "message": "Authenticate", "status": 401})
    with caplog.at_level("ERROR", logger="madoguchi.telephony.twilio_adapter"):
        for _ in range(3):  # as many processes, each with its own memory
            monkeypatch.setattr(twilio_adapter, "_account_refused_told_at", [float("-inf")])
            one = TwilioTelephony(ACCOUNT, "secret-token", "+81312345678", http_client=http,
                                  redis=redis_client)
            with pytest.raises(AccountRefused):
                one.redirect_call(CALL_SID, "https://x.example/b")
    assert caplog.text.count("Twilio refused this account") == 1
    assert 0 < redis_client.ttl(twilio_adapter.ACCOUNT_REFUSED_TOLD_KEY) <= 60


def test_a_request_twilio_refuses_for_itself_is_a_plain_failure():
    http = RecordingHttpClient(400, {"code": 21215, "status": 400,
                                     "message": "Account not authorized to call this number"})
    with pytest.raises(TelephonyError, match="21215") as caught:
        EVERY_API_CALL["place_call"](adapter(http))
    assert not isinstance(caught.value, (NetworkBusy, CallNotLive, OutcomeUnknown))


def test_a_failed_listing_of_calls_to_a_number_names_it_only_masked():
    http = RecordingHttpClient(status=500, body={
        "code": 20500, "message": "Internal error while listing calls to +819012345678",
        "status": 500})
    with pytest.raises(TelephonyError) as caught:
        adapter(http).calls_placed_to("+819012345678", datetime(2026, 11, 23, tzinfo=UTC))
    said = str(caught.value)  # the callback sweep logs exactly this text
    assert "20500" in said and "5678" in said
    assert "9012345678" not in said and "12345678" not in said.replace("20500", "")


def test_twilio_credentials_choose_the_twilio_adapter(settings):
    secrets = settings.secrets.model_copy(update={
        "twilio_account_sid": ACCOUNT, "twilio_phone_number": "050-1234-5678"})
    chosen = build_telephony(settings.model_copy(update={"secrets": secrets}))
    assert isinstance(chosen, TwilioTelephony)
    assert isinstance(chosen, Telephony)
    assert chosen.from_number == "+815012345678"


def listing(*calls: tuple[str, str]) -> RecordingHttpClient:
    """Twilio's answer to a list of calls: (CallSid, creation time as Twilio writes it)."""
    return RecordingHttpClient(200, {
        "calls": [{"sid": sid, "date_created": created} for sid, created in calls],
        "meta": {"key": "calls", "next_page_url": None}})


def test_calls_placed_to_a_number_since_a_moment_are_listed_from_twilio():
    older, newer = "CA" + "1" * 32, "CA" + "2" * 32
    http = listing((newer, "Mon, 23 Nov 2026 13:05:00 +0000"),
                   (older, "Mon, 23 Nov 2026 12:00:00 +0000"))
    found = adapter(http).calls_placed_to("+819012345678", datetime(2026, 11, 23, 13, 0,
                                                                     tzinfo=UTC))
    assert found == [newer]
    (sent,) = http.requests
    assert sent["method"] == "GET"
    assert sent["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"


def test_a_call_twilio_created_in_the_same_second_as_the_moment_asked_about_is_found():
    # Twilio's creation times are whole seconds; the moment a callback attempt began has
    # microseconds. Missed, the sweep would take a call Twilio placed for one never dialled,
    # and the resident would be called twice.
    placed, earlier = "CA" + "3" * 32, "CA" + "4" * 32
    http = listing((placed, "Mon, 23 Nov 2026 13:00:00 +0000"),
                   (earlier, "Mon, 23 Nov 2026 12:59:50 +0000"))
    began = datetime(2026, 11, 23, 13, 0, 0, 700_000, tzinfo=UTC)
    assert adapter(http).calls_placed_to("+819012345678", began) == [placed]


def test_a_calls_status_is_fetched_from_its_resource_and_an_unknown_call_has_none():
    http = RecordingHttpClient(status=200, body={"sid": CALL_SID, "status": "completed"})
    assert adapter(http).call_status(CALL_SID) == "completed"
    request = http.requests[0]
    assert request["method"] == "GET" and request["uri"].endswith(f"/Calls/{CALL_SID}.json")
    missing = RecordingHttpClient(status=404, body={"code": 20404, "message": "not found",
                                                    "status": 404})
    assert adapter(missing).call_status(CALL_SID) is None
    failing = RecordingHttpClient(status=500, body={"code": 20500, "message": "error",
                                                    "status": 500})
    with pytest.raises(TelephonyError):
        adapter(failing).call_status(CALL_SID)


def test_twilio_s_own_request_log_never_carries_the_number(monkeypatch, caplog):
    # Twilio's client logs each request's URL and query at INFO, and serve and the worker
    # log at INFO: listing calls to a number would print it unmasked.
    def send(_session, request, **_settings):
        answer = requests.Response()
        answer.status_code, answer._content = 200, json.dumps({"calls": []}).encode()
        answer.request = request
        return answer

    monkeypatch.setattr(requests.Session, "send", send)
    telephony = TwilioTelephony(ACCOUNT, "secret-token", "+81312345678")  # Twilio's own client
    with caplog.at_level(logging.DEBUG):
        assert telephony.calls_placed_to("+819012345678", datetime(2026, 11, 23, tzinfo=UTC)) == []
    assert "9012345678" not in caplog.text


RECORDING_SID = "RE" + "d" * 32
RECORDING = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING_SID}"


def test_a_recording_is_deleted_from_its_twilio_resource():
    http = RecordingHttpClient(status=204, body={})
    assert adapter(http).delete_recording(RECORDING) is True
    (sent,) = http.requests
    assert sent["method"] == "DELETE"
    assert sent["uri"] == (f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/"
                           f"{RECORDING_SID}.json")


def test_a_recording_twilio_no_longer_keeps_is_already_deleted():
    assert adapter(RecordingHttpClient(status=404, body={"code": 20404, "status": 404,
                                                         "message": "not found"})
                   ).delete_recording(RECORDING) is True


def test_a_recording_twilio_would_not_delete_is_a_failure():
    http = RecordingHttpClient(status=403, body={"code": 20403, "status": 403,
                                                 "message": "Forbidden"})
    with pytest.raises(TelephonyError, match="20403"):
        adapter(http).delete_recording(RECORDING)


def test_another_account_s_recording_is_not_asked_for(caplog):
    http = RecordingHttpClient(status=204, body={})
    elsewhere = RECORDING.replace(ACCOUNT, "AC" + "e" * 32)
    with caplog.at_level(logging.WARNING):
        assert adapter(http).delete_recording(elsewhere) is False
    assert http.requests == [] and f"{RECORDING_SID} is not of this Twilio account" in caplog.text
