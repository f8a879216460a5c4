"""Recordings as the network keeps them: listed, fetched with the account's credentials, and
only ever this account's (Twilio), or kept in the shared ledger and played as WAV (simulator)."""

from __future__ import annotations

import io
import json
import wave
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import BaseAdapter
from twilio.http.response import Response

from madoguchi.telephony.base import RecordingNotFound, TelephonyError
from madoguchi.telephony.engine import CallSetup
from madoguchi.telephony.script import ScriptCaller, parse_script
from madoguchi.telephony.simulated import SimulatedTelephony
from madoguchi.telephony.twilio_adapter import TwilioTelephony

from .test_twilio_adapter import ACCOUNT, CALL_SID, RecordingHttpClient

RECORDING_SID = "RE" + "d" * 32
RECORDING_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING_SID}"


class MediaAdapter(BaseAdapter):
    """Twilio's media host as seen by requests: answers with a status and body, remembers asks."""

    def __init__(self, status: int = 200, body: bytes = b"ID3-mp3-bytes") -> None:
        super().__init__()
        self.status, self.body = status, body
        self.sent: list[requests.PreparedRequest] = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        response = requests.Response()
        response.status_code = self.status
        response.raw = io.BytesIO(self.body)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        """Nothing to close."""


def twilio_with(media: MediaAdapter, http: RecordingHttpClient | None = None) -> TwilioTelephony:
    session = requests.Session()
    session.mount("https://", media)
    return TwilioTelephony(ACCOUNT, "secret-token", "+81312345678",
                           http_client=http or RecordingHttpClient(), media_http=session)


def test_twilio_recording_is_fetched_as_mp3_with_the_account_credentials():
    media = MediaAdapter()
    audio = twilio_with(media).fetch_recording(RECORDING_URL)
    assert (audio.content, audio.content_type) == (b"ID3-mp3-bytes", "audio/mpeg")
    (sent,) = media.sent
    assert sent.url == RECORDING_URL + ".mp3"
    assert sent.headers["Authorization"] == requests.auth._basic_auth_str(ACCOUNT, "secret-token")


@pytest.mark.parametrize("address", [
    "https://evil.example/2010-04-01/Accounts/" + ACCOUNT + "/Recordings/" + RECORDING_SID,
    RECORDING_URL.replace(ACCOUNT, "AC" + "9" * 32),
    "https://api.twilio.com/2010-04-01/Accounts/" + ACCOUNT + "/Calls/" + CALL_SID,
    RECORDING_URL + "/../../Calls",
])
def test_twilio_credentials_never_go_to_an_address_that_is_not_this_accounts_recording(address):
    media = MediaAdapter()
    with pytest.raises(RecordingNotFound):
        twilio_with(media).fetch_recording(address)
    assert media.sent == []


def test_a_recording_twilio_no_longer_keeps_is_not_found_and_other_failures_say_so():
    with pytest.raises(RecordingNotFound):
        twilio_with(MediaAdapter(status=404)).fetch_recording(RECORDING_URL)
    with pytest.raises(TelephonyError, match="HTTP 500"):
        twilio_with(MediaAdapter(status=500)).fetch_recording(RECORDING_URL)


def test_twilio_recordings_list_is_read_since_the_moment_with_addresses_as_in_webhooks():
    http = RecordingHttpClient(status=200, body={"recordings": [{
        "sid": RECORDING_SID, "call_sid": CALL_SID, "duration": "14",
        "date_created": "Sun, 06 Dec 2026 08:00:00 +0000",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT}/Recordings/{RECORDING_SID}.json",
    }], "next_page_uri": None, "page": 0, "page_size": 50})
    since = datetime(2026, 12, 5, tzinfo=UTC)
    (found,) = twilio_with(MediaAdapter(), http).recordings_since(since)
    assert (found.url, found.call_sid, found.seconds) == (RECORDING_URL, CALL_SID, 14)
    assert found.created_at == datetime(2026, 12, 6, 8, tzinfo=UTC)
    (sent,) = http.requests
    assert sent["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings.json"


def test_twilio_parties_of_a_call_are_its_from_and_to_numbers():
    http = RecordingHttpClient(status=200, body={"sid": CALL_SID, "from": "+819012345678",
                                                 "to": "+81312345678"})
    parties = twilio_with(MediaAdapter(), http).parties_of(CALL_SID)
    assert (parties.from_number, parties.to_number) == ("+819012345678", "+81312345678")


def test_a_simulated_recording_is_kept_listed_and_played_as_wav(call_engine, network,
                                                                twiml_server):
    twiml_server.serve("/start", "<Response><Record action='/rec' maxLength='60'/></Response>")
    twiml_server.serve("/rec", "<Response><Hangup/></Response>")
    before = datetime.now(UTC) - timedelta(seconds=1)
    setup = CallSetup(url=twiml_server.url("/start"), from_number="+819012345678",
                      to_number="+81312345678")
    call_engine.run(setup, ScriptCaller(parse_script("say 道路に穴があいています、見てください")))
    posted = twiml_server.received[-1].params
    telephony = SimulatedTelephony(network, "+81312345678")
    (kept,) = telephony.recordings_since(before)
    assert (kept.url, kept.call_sid) == (posted["RecordingUrl"], setup.call_sid)
    assert kept.seconds == int(posted["RecordingDuration"])
    parties = telephony.parties_of(setup.call_sid)
    assert (parties.from_number, parties.to_number) == ("+819012345678", "+81312345678")
    audio = telephony.fetch_recording(posted["RecordingUrl"])
    assert audio.content_type == "audio/wav"
    with wave.open(io.BytesIO(audio.content)) as sound:
        assert sound.getnframes() == sound.getframerate() * kept.seconds
    assert telephony.recordings_since(datetime.now(UTC) + timedelta(seconds=5)) == []


def test_the_simulator_serves_no_address_but_its_own_recordings(network):
    telephony = SimulatedTelephony(network, "+81312345678")
    for address in (RECORDING_URL, "https://sim.madoguchi.invalid/Recordings/RE" + "0" * 32):
        with pytest.raises(RecordingNotFound):
            telephony.fetch_recording(address)


def test_a_simulated_recordings_key_names_no_number(network, redis_client):
    from madoguchi.telephony.network import SimulatedRecording

    network.keep_recording(SimulatedRecording("RE" + "1" * 32, CALL_SID, "+819012345678", 5,
                                              datetime.now(UTC).timestamp()))
    assert not [key for key in redis_client.keys("*") if b"12345678" in key]
    assert redis_client.ttl("madoguchi:sim:recording:RE" + "1" * 32) > 0
    assert json.loads(redis_client.get("madoguchi:sim:recording:RE" + "1" * 32))["seconds"] == 5


class PagedRecordings(RecordingHttpClient):
    """Twilio's recordings list in pages, as its next_page_uri links them."""

    def __init__(self, pages: list[list[str]]) -> None:
        super().__init__(status=200)
        self.pages = pages

    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        self.requests.append({"method": method, "uri": uri, "params": params})
        asked = {**parse_qs(urlsplit(uri).query), **(params or {})}
        number = int(asked.get("Page", ["0"])[0])
        later = number + 1 < len(self.pages)
        listed = f"/2010-04-01/Accounts/{ACCOUNT}/Recordings.json"
        body = {"recordings": [{"sid": sid, "call_sid": CALL_SID, "duration": "9",
                                "date_created": "Sun, 06 Dec 2026 08:00:00 +0000"}
                               for sid in self.pages[number]],
                "next_page_uri": f"{listed}?Page={number + 1}&PageSize=1000" if later else None,
                "page": number, "page_size": 1000}
        return Response(200, json.dumps(body))


def test_every_page_of_twilio_s_recordings_list_is_read():
    # A database outage on launch day leaves more messages than one page holds: each is a
    # resident's request and must become a case.
    sids = [f"RE{n:032x}" for n in range(2500)]
    http = PagedRecordings([sids[0:1000], sids[1000:2000], sids[2000:]])
    found = twilio_with(MediaAdapter(), http).recordings_since(datetime(2026, 12, 5, tzinfo=UTC))
    assert [item.url.rsplit("/", 1)[1] for item in found] == sids
    assert len(http.requests) == 3
