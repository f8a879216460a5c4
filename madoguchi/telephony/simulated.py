"""SimulatedTelephony: the seam's built-in phone network, for the embedded default and tests."""

from __future__ import annotations

import logging
from datetime import datetime

from redis import Redis

from madoguchi import phone
from madoguchi.redis_conn import connect
from madoguchi.settings import Settings
from madoguchi.telephony.base import TelephonyError
from madoguchi.telephony.network import Control, SimulatedCall, SimulatedNetwork, new_sid

log = logging.getLogger(__name__)


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

    def _live(self, call_sid: str) -> SimulatedCall:
        call = self.network.get_call(call_sid)
        if call is None:
            raise TelephonyError(f"call {call_sid} is unknown to the simulated network")
        if call.status in ("completed", "busy", "no-answer", "failed", "canceled"):
            raise TelephonyError(f"call {call_sid} has already ended ({call.status})")
        return call
