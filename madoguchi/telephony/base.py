"""The telephony seam: what the rest of Madoguchi may ask of the phone network."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


class TelephonyError(Exception):
    """The phone network refused or failed a request; the message says what and why."""


class CallNotLive(TelephonyError):
    """The call has ended or was never ours: it can no longer be redirected or hung up."""


class NetworkBusy(TelephonyError):
    """The network is overloaded or failing (Twilio's 429 and 5xx, or out of reach): nothing was
    done, and the same request may well succeed in a moment."""


class AccountRefused(NetworkBusy):
    """Twilio refused this account's credentials or rights (HTTP 401 or 403): nothing was done.

    Nothing will be until TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are put right, for every
    request alike; so it is kept to be asked again, as in a busy spell, never counted as a
    refusal of that one call or text (a resident's callback attempts are not used up by it).
    """


class OutcomeUnknown(TelephonyError):
    """The network's answer never came (out of reach, too slow): the request may have been done.

    A caller that would act differently had it been done (dial again, send again) must find
    out first, or leave the decision to a later look; the others treat it as a failure.
    """


class RecordingNotFound(TelephonyError):
    """The network has no such recording (never made, deleted, or not one of ours)."""


@dataclass(frozen=True)
class RecordingAudio:
    """A recording's sound, as fetched from the network."""

    content: bytes
    content_type: str


@dataclass(frozen=True)
class NetworkRecording:
    """A recording the network keeps: its address (as in RecordingUrl), call and length."""

    url: str
    call_sid: str
    seconds: int
    created_at: datetime


@dataclass(frozen=True)
class CallParties:
    """Who made a call and the number it was made to (E.164 as the network gives them)."""

    from_number: str | None
    to_number: str | None


@runtime_checkable
class Telephony(Protocol):
    """The phone network as seen by Madoguchi: Twilio in production, the simulator otherwise.

    Numbers are E.164 strings ("+819012345678"). Implementations never log them unmasked.
    """

    def send_sms(self, to_e164: str, body: str) -> str:
        """Send a text message to a mobile number; return the message id (SM…)."""
        ...

    def place_call(
        self,
        to_e164: str,
        *,
        url: str,
        status_callback: str,
        timeout_seconds: int,
        machine_detection: bool,
    ) -> str:
        """Ring a number; when answered, the call fetches TwiML from url. Return the CallSid.

        status_callback receives the final CallStatus (completed, busy, no-answer, failed);
        timeout_seconds is how long it rings; machine_detection adds AnsweredBy to the webhook.
        """
        ...

    def calls_placed_to(self, to_e164: str, since: datetime) -> list[str]:
        """CallSids of the calls we placed to a number since a moment (newest first).

        Lets a callback whose worker died between dialling and saving the CallSid find the call
        it made instead of dialling again.
        """
        ...

    def call_status(self, call_sid: str) -> str | None:
        """The network's status of a call (queued, in-progress, completed…); None if unknown.

        Lets the sweep free an operator whose call ended without any webhook reaching us.
        """
        ...

    def redirect_call(self, call_sid: str, url: str) -> None:
        """Make a live call fetch and run new TwiML from url (e.g. take a caller off hold)."""
        ...

    def hangup(self, call_sid: str) -> None:
        """End a live call (or cancel one that is still ringing)."""
        ...

    def fetch_recording(self, recording_url: str) -> RecordingAudio:
        """The sound of one of our recordings, given its RecordingUrl; RecordingNotFound if none."""
        ...

    def delete_recording(self, recording_url: str) -> bool:
        """Delete one of our recordings from the network; True once it no longer keeps it.

        False for an address that is not one of ours (another account's): it is left there.
        """
        ...

    def recordings_since(self, since: datetime) -> list[NetworkRecording]:
        """Recordings made on our line since a moment (any order)."""
        ...

    def parties_of(self, call_sid: str) -> CallParties:
        """The numbers a call was made from and to (None where withheld or unknown)."""
        ...
