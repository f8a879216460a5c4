"""The fallback's answers, built without the database: an apology that takes a message, thanks.

Twilio turns to the number's Fallback URL when our webhooks fail, so these speak every offered
language in turn (the caller's choice may be what was lost) and read nothing but the settings.
"""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

import prompts
from madoguchi.settings import Settings
from madoguchi.voice import twiml
from madoguchi.voice.speech import Speaker

MESSAGE_MAX_SECONDS = 120


def _speak_every_language(response: VoiceResponse, settings: Settings, *keys: str) -> None:
    voices = {code: prompts.catalog(code).voice for code in settings.languages.offered}
    for code in settings.languages.offered:
        speaker = Speaker(prompts.catalog(code), settings.tz, settings.menu.pause_ms)
        twiml.speak(response, speaker.say(*keys), twiml.Voicing(voices=voices, lang=code))


def apology_taking_a_message(settings: Settings) -> VoiceResponse:
    """Apologise in every language, then record a message for a callback."""
    response = VoiceResponse()
    _speak_every_language(response, settings, "fallback_apology", "fallback_message")
    base = settings.secrets.public_base_url
    response.record(action=f"{base}/voice/fallback/message", method="POST",
                    max_length=MESSAGE_MAX_SECONDS, finish_on_key="#", play_beep=True,
                    timeout=10, trim="trim-silence")
    response.redirect(f"{base}/voice/fallback", method="POST")
    return response


def thanks_for_the_message(settings: Settings) -> VoiceResponse:
    """Thank the caller in every language, then hang up."""
    response = VoiceResponse()
    _speak_every_language(response, settings, "fallback_thanks")
    response.hangup()
    return response
