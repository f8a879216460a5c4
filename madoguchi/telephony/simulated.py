"""SimulatedTelephony: the seam's built-in phone network, for the embedded default and tests."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

from redis import Redis

from madoguchi import phone
from madoguchi.redis_conn import connect
from madoguchi.settings import Settings
from madoguchi.telephony.base import (
    CallNotLive,
    CallParties,
    NetworkRecording,
    RecordingAudio,
    RecordingNotFound,
    TelephonyError,
)
from madoguchi.telephony.network import (
    RECORDINGS_HOST,
    Control,
    SimulatedCall,
    SimulatedNetwork,
    new_sid,
)
from madoguchi.telephony.sim_audio import murmur_wav

log = logging.getLogger(__name__)
_RECORDING_URL = re.compile(re.escape(RECORDINGS_HOST) + r"(RE[0-9a-f]{32})")


def city_number(settings: Settings) -> str:
    """The number calls and texts come from: TWILIO_PHONE_NUMBER, else the city's number."""
    raw = settings.secrets.twilio_phone_number or settings.city.phone_number
    number = phone.try_normalize(raw, settings.city.region)
    if number is None:
        raise TelephonyError(
            "no calling number: set TWILIO_PHONE_NUMBER or [city] phone_number in config.toml"
        )
    return number


class SimulatedTelephony:
    """Hands outbound calls and texts to the simulated network in Redis; nothing leaves it."""

    def __init__(self, network: SimulatedNetwork, from_number: str) -> None:
        self.network = network
        self.from_number = from_number

    @classmethod
    def from_settings(cls, settings: Settings, redis: Redis | None = None) -> SimulatedTelephony:
        """The simulator on the given Redis client, or on REDIS_URL."""
        if redis is None:
            if not settings.secrets.redis_url:
                raise TelephonyError(
                    "the built-in phone network needs Redis: set REDIS_URL "
                    "(madoguchi serve starts an embedded one)"
                )
            redis = connect(settings.secrets.redis_url)
        return cls(SimulatedNetwork(redis), city_number(settings))

    def send_sms(self, to_e164: str, body: str) -> str:
        """Deliver a text message to the simulated phone; return its SM… id."""
        if not body:
            raise TelephonyError("an SMS needs a body")
        sms = self.network.deliver_sms(self.from_number, to_e164, body)
        log.info("simulated SMS %s to %s", sms.sid, phone.mask(to_e164))
        return sms.sid

    def place_call(
        self,
        to_e164: str,
        *,
        url: str,
        status_callback: str,
        timeout_seconds: int,
        machine_detection: bool,
    ) -> str:
        """Ring the simulated resident phone; a phone or test answering it runs url."""
        call = SimulatedCall(
            sid=new_sid("CA"),
            direction="outbound-api",
            from_number=self.from_number,
            to_number=to_e164,
            url=url,
            status_callback=status_callback,
            timeout_seconds=timeout_seconds,
            machine_detection=machine_detection,
        )
        self.network.ring(call)
        log.info("simulated call %s ringing %s", call.sid, phone.mask(to_e164))
        return call.sid

    def calls_placed_to(self, to_e164: str, since: datetime) -> list[str]:
        """CallSids of the simulated calls placed to the number since the moment (newest first)."""
        return [call.sid for call in self.network.outbound_calls(to_e164)
                if call.created_at >= since.timestamp()]

    def call_status(self, call_sid: str) -> str | None:
        """The call's status in the simulated ledger; None once it has been forgotten.

        A ring nobody answered within its timeout is reported (and ended) as no-answer.
        """
        self.network.expire_ring(call_sid)
        call = self.network.get_call(call_sid)
        return call.status if call is not None else None

    def redirect_call(self, call_sid: str, url: str) -> None:
        """Tell the phone running the call to fetch new TwiML from url."""
        self._live(call_sid)
        self.network.send_control(call_sid, Control("redirect", url))

    def hangup(self, call_sid: str) -> None:
        """End the call, or stop it ringing if nobody answered yet."""
        self._live(call_sid)
        if not self.network.cancel_ring(call_sid):
            self.network.send_control(call_sid, Control("hangup"))

    def fetch_recording(self, recording_url: str) -> RecordingAudio:
        """The simulated recording's sound as WAV; RecordingNotFound for any other address."""
        match = _RECORDING_URL.fullmatch(recording_url)
        recording = self.network.recording(match.group(1)) if match else None
        if recording is None:
            raise RecordingNotFound("the simulated network has no such recording")
        return RecordingAudio(murmur_wav(recording.seconds), "audio/wav")

    def delete_recording(self, recording_url: str) -> bool:
        """Forget a simulated recording (listed and fetched no more); False for any other."""
        match = _RECORDING_URL.fullmatch(recording_url)
        if match is None:
            return False
        self.network.forget_recording(match.group(1))
        return True

    def recordings_since(self, since: datetime) -> list[NetworkRecording]:
        """Recordings the simulated network still keeps, made since the moment."""
        return [
            NetworkRecording(url=item.url, call_sid=item.call_sid, seconds=item.seconds,
                             created_at=datetime.fromtimestamp(item.created_at, UTC))
            for item in self.network.recordings_since(since.timestamp())
        ]

    def parties_of(self, call_sid: str) -> CallParties:
        """The numbers as the simulated network recorded them with the recording, or the call."""
        for item in self.network.recordings_since(0):
            if item.call_sid == call_sid:
                return CallParties(item.from_number or None, item.to_number or None)
        call = self.network.get_call(call_sid)
        if call is None:
            return CallParties(None, None)
        return CallParties(call.from_number or None, call.to_number or None)

    def _live(self, call_sid: str) -> SimulatedCall:
        call = self.network.get_call(call_sid)
        if call is None:
            raise CallNotLive(f"call {call_sid} is unknown to the simulated network")
        if call.status in ("completed", "busy", "no-answer", "failed", "canceled"):
            raise CallNotLive(f"call {call_sid} has already ended ({call.status})")
        return call
