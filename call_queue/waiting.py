"""Pure TwiML builders for the line: join the queue, the wait loop, leave, the operator bridge.

Nothing here reads the database, the clock or the request. The wait loop may only use verbs
Twilio allows in a waitUrl (Say, Play, Pause, Gather, Redirect, Leave, Hangup) and never Hangup.
"""

from __future__ import annotations

from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from madoguchi.voice.speech import Utterance
from madoguchi.voice.twiml import SPEECH_TIMEOUT_SECONDS, Voicing, speak

QUEUE_NAME = "madoguchi-line"
# Seconds the "press 1 for a callback" question listens after it is said.
OFFER_LISTEN_SECONDS = 8


@dataclass(frozen=True)
class WaitLoop:
    """One pass of the hold loop: what to say (maybe nothing), then how long to rest."""

    utterance: Utterance
    gather_url: str
    next_url: str
    hints: tuple[str, ...]
    language: str
    rest_seconds: int


def enqueue(utterance: Utterance, voicing: Voicing, wait_url: str, action_url: str,
            pause_ms: int = 500, queue_name: str = QUEUE_NAME) -> VoiceResponse:
    """Say why the caller waits, then put them in the queue with our wait loop and action."""
    response = VoiceResponse()
    speak(response, utterance, voicing, pause_ms)
    response.enqueue(queue_name, wait_url=wait_url, wait_url_method="POST", action=action_url,
                     method="POST")
    return response


def wait_loop(loop: WaitLoop, voicing: Voicing, pause_ms: int = 500) -> VoiceResponse:
    """One Gather (keys or 折り返し) around the announcement and a calm pause, then loop.

    The pause sits inside the Gather so a key pressed during the quiet part is still heard.
    With no input Twilio goes on to the Redirect, which asks for the next pass.
    """
    response = VoiceResponse()
    options: dict[str, object] = {
        "input": "dtmf speech", "action": loop.gather_url, "method": "POST", "num_digits": 1,
        "timeout": OFFER_LISTEN_SECONDS, "speech_timeout": str(SPEECH_TIMEOUT_SECONDS),
        "language": loop.language,
    }
    if loop.hints:
        options["hints"] = ",".join(loop.hints)
    gather = response.gather(**options)
    speak(gather, loop.utterance, voicing, pause_ms)
    if loop.rest_seconds > 0:
        gather.pause(length=loop.rest_seconds)
    response.redirect(loop.next_url, method="POST")
    return response


def leave_line() -> VoiceResponse:
    """Leave the queue: the Enqueue action then takes the caller to the callback capture."""
    response = VoiceResponse()
    response.leave()
    return response


def back_to_loop(next_url: str) -> VoiceResponse:
    """Return to the wait loop (a key that was not the callback key)."""
    response = VoiceResponse()
    response.redirect(next_url, method="POST")
    return response


def bridge(utterance: Utterance, voicing: Voicing, *, client: str | None, number: str | None,
           action_url: str, ring_seconds: int = 30, pause_ms: int = 500,
           leg_status_url: str | None = None) -> VoiceResponse:
    """Put the caller through to the operator (browser client, or their phone number).

    leg_status_url hears when the operator's leg ends, whichever side hangs up.
    """
    if not client and not number:
        raise ValueError("bridge needs the operator's client name or phone number")
    response = VoiceResponse()
    speak(response, utterance, voicing, pause_ms)
    dial = response.dial(action=action_url, method="POST", timeout=ring_seconds)
    leg: dict[str, str] = {}
    if leg_status_url:
        leg = {"status_callback": leg_status_url, "status_callback_event": "completed",
               "status_callback_method": "POST"}
    if number:
        dial.number(number, **leg)
    else:
        dial.client(client, **leg)
    return response


def say_then_hang_up(utterance: Utterance, voicing: Voicing, pause_ms: int = 500) -> VoiceResponse:
    """A short message, then end an outbound call we placed (a machine, a finished callback)."""
    response = VoiceResponse()
    speak(response, utterance, voicing, pause_ms)
    response.hangup()
    return response
