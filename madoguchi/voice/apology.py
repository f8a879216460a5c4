"""The answer when our own code failed during a call: sorry, then the fallback's callback offer."""

from __future__ import annotations

from flask import Response, current_app, request

import prompts
from madoguchi.voice import twiml
from madoguchi.voice.speech import Speaker


def apology() -> Response:
    """Say sorry in the caller's language (`l` in the URL), then continue at /voice/fallback."""
    settings = current_app.config["SETTINGS"]
    lang = request.args.get("l", settings.languages.default)
    lang = lang if lang in settings.languages.offered else settings.languages.default
    speaker = Speaker(prompts.catalog(lang), settings.tz, settings.menu.pause_ms)
    voices = {code: prompts.catalog(code).voice for code in settings.languages.offered}
    voicing = twiml.Voicing(voices=voices, lang=lang)
    url = f"{settings.secrets.public_base_url}/voice/fallback"
    response = twiml.announce_then(speaker.say("error_sorry"), voicing, url)
    return Response(response.to_xml(), mimetype="text/xml")
