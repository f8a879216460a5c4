"""TwilioTelephony: the seam over Twilio's REST API (production)."""

from __future__ import annotations

import logging
import re
from datetime import datetime

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.rest import Client

from madoguchi import phone
from madoguchi.settings import Settings
from madoguchi.telephony.base import TelephonyError

log = logging.getLogger(__name__)
_NUMBER = re.compile(r"\+?\d[\d\s()-]{6,}\d")
# Calls to one resident within a callback's lifetime are few; Twilio lists newest first.
RECENT_CALLS_LOOKED_AT = 20


class TwilioTelephony:
    """Calls and texts through a Twilio account; the HTTP client is injectable for tests."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        http_client: HttpClient | None = None,
    ) -> None:
        self.from_number = from_number
        self.client = Client(account_sid, auth_token, http_client=http_client)

    @classmethod
    def from_settings(
        cls, settings: Settings, http_client: HttpClient | None = None
    ) -> TwilioTelephony:
        """The adapter for the configured account, calling from TWILIO_PHONE_NUMBER."""
        number = settings.secrets.twilio_phone_number
        if not number:
            raise TelephonyError("TWILIO_PHONE_NUMBER: required when TWILIO_ACCOUNT_SID is set")
        from_number = phone.try_normalize(number, settings.city.region)
        if from_number is None:
            raise TelephonyError("TWILIO_PHONE_NUMBER: not a valid phone number")
        assert settings.secrets.twilio_account_sid is not None
        return cls(
            settings.secrets.twilio_account_sid,
            settings.secrets.twilio_auth_token,
            from_number,
            http_client,
        )

    def send_sms(self, to_e164: str, body: str) -> str:
        """Send an SMS through Twilio; return the message sid."""
        try:
            message = self.client.messages.create(to=to_e164, from_=self.from_number, body=body)
        except (TwilioRestException, TwilioException) as exc:
            raise TelephonyError(f"SMS to {phone.mask(to_e164)} failed: {_reason(exc)}") from None
        log.info("SMS %s sent to %s", message.sid, phone.mask(to_e164))
        return str(message.sid)

    def place_call(
        self,
        to_e164: str,
        *,
        url: str,
        status_callback: str,
        timeout_seconds: int,
        machine_detection: bool,
    ) -> str:
        """Start an outbound call through Twilio; return the CallSid."""
        options: dict[str, object] = {
            "to": to_e164,
            "from_": self.from_number,
            "url": url,
            "method": "POST",
            "status_callback": status_callback,
            "status_callback_method": "POST",
            "status_callback_event": ["completed"],
            "timeout": timeout_seconds,
        }
        if machine_detection:
            options["machine_detection"] = "Enable"
        try:
            call = self.client.calls.create(**options)
        except (TwilioRestException, TwilioException) as exc:
            raise TelephonyError(f"call to {phone.mask(to_e164)} failed: {_reason(exc)}") from None
        log.info("call %s placed to %s", call.sid, phone.mask(to_e164))
        return str(call.sid)

    def calls_placed_to(self, to_e164: str, since: datetime) -> list[str]:
        """CallSids of our calls to the number created since the moment (newest first)."""
        try:
            found = self.client.calls.list(to=to_e164, from_=self.from_number,
                                           limit=RECENT_CALLS_LOOKED_AT)
        except (TwilioRestException, TwilioException) as exc:
            raise TelephonyError(
                f"listing calls to {phone.mask(to_e164)} failed: {_reason(exc)}") from None
        return [str(call.sid) for call in found
                if call.date_created is not None and call.date_created >= since]

    def call_status(self, call_sid: str) -> str | None:
        """The call's status as Twilio reports it; None when Twilio does not know the call."""
        try:
            call = self.client.calls(call_sid).fetch()
        except TwilioRestException as exc:
            if exc.status == 404:
                return None
            raise TelephonyError(f"status of call {call_sid} failed: {_reason(exc)}") from None
        except TwilioException as exc:
            raise TelephonyError(f"status of call {call_sid} failed: {_reason(exc)}") from None
        return str(call.status) if call.status else None

    def redirect_call(self, call_sid: str, url: str) -> None:
        """Point a live call at new TwiML."""
        try:
            self.client.calls(call_sid).update(url=url, method="POST")
        except (TwilioRestException, TwilioException) as exc:
            raise TelephonyError(f"redirect of call {call_sid} failed: {_reason(exc)}") from None

    def hangup(self, call_sid: str) -> None:
        """End a live call."""
        try:
            self.client.calls(call_sid).update(status="completed")
        except (TwilioRestException, TwilioException) as exc:
            raise TelephonyError(f"hang-up of call {call_sid} failed: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    """Twilio's error as one line, without the request URL (which names the account)."""
    text = f"Twilio error {exc.code} (HTTP {exc.status}): {exc.msg}" if isinstance(
        exc, TwilioRestException
    ) else (str(exc) or type(exc).__name__)
    # Twilio's messages may quote the number; logs and exceptions must not carry it.
    return _NUMBER.sub("[number]", text)
