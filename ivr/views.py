"""The voice webhooks: parse the request, hand it to the call flow, answer TwiML.

All POST webhooks are signature-checked before anything is read or recorded. Whatever goes
wrong inside, the caller hears an apology and is sent to the fallback, never silence.
"""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, Response, abort, current_app, request, send_from_directory
from twilio.twiml.voice_response import VoiceResponse

import prompts
from call_queue.callbacks import active_for as active_callback_for
from call_queue.callbacks import request_callback
from ivr.flow import CallFlow
from ivr.state import State
from ivr.steps import STEPS
from ivr.voicemail import keep_voicemail
from madoguchi import calls, phone
from madoguchi.db import get_session
from madoguchi.settings import Settings
from madoguchi.voice import twiml
from madoguchi.voice.apology import apology
from madoguchi.voice.audio import audio_finder, audio_folder
from madoguchi.voice.inputs import printable
from madoguchi.voice.signature import twilio_signed
from madoguchi.voice.speech import Speaker

log = logging.getLogger(__name__)

bp = Blueprint("ivr", __name__, url_prefix="/voice")


def _xml(response: VoiceResponse) -> Response:
    return Response(response.to_xml(), mimetype="text/xml")


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _field(name: str, limit: int) -> str:
    """A form value without control characters."""
    return printable(request.form.get(name), limit)


def _flow(step: str) -> CallFlow:
    settings = _settings()
    session = get_session()
    form = request.form
    call_sid = _field("CallSid", 64) or f"unknown-{secrets.token_hex(8)}"
    state = State.parse(step, request.args, list(settings.languages.offered))
    call = calls.start_call(
        session, call_sid, from_raw=form.get("From"), to_number=_field("To", 32),
        region=settings.city.region, language=state.lang,
    )
    return CallFlow(settings, session, call, state, audio_finder(settings))


def _run(step: str, work) -> Response:
    try:
        return _xml(work(_flow(step)))
    except Exception:
        log.exception("voice webhook %s failed", step)
        try:
            get_session().rollback()
        except Exception:
            log.exception("rollback after a failed voice webhook failed too")
        return apology()


@bp.post("/incoming")
@twilio_signed
def incoming() -> Response:
    """The number's "A call comes in" webhook: greeting and language choice."""
    return _run("incoming", lambda flow: flow.incoming())


@bp.post("/step/<step>")
@twilio_signed
def step(step: str) -> Response:
    """The answer to a question (Gather action), or a Dial/Record action."""
    if step not in STEPS:
        step = "menu"
    return _run(step, lambda flow: flow.answer(request.form))


@bp.post("/status")
@twilio_signed
def status() -> Response:
    """Call status callbacks; late, out-of-order events are ignored by SequenceNumber."""
    form = request.form
    call_sid = _field("CallSid", 64)
    if not call_sid:
        return Response("", status=204)
    sequence = form.get("SequenceNumber", "")
    duration = form.get("CallDuration", "")
    settings = _settings()
    session = get_session()
    try:
        calls.apply_status(
            session, call_sid, status=_field("CallStatus", 20) or "unknown",
            sequence=int(sequence) if sequence.isdigit() and len(sequence) < 9 else None,
            duration_seconds=int(duration) if duration.isdigit() and len(duration) < 9 else None,
            from_raw=form.get("From"), to_number=_field("To", 32), region=settings.city.region,
        )
    except Exception:
        session.rollback()
        log.exception("status callback for %s failed", call_sid)
        return Response("", status=500)
    return Response("", status=204)


def _static_fallback(settings: Settings) -> VoiceResponse:
    """Bilingual apology and a message for a callback, built without the database."""
    voices = {code: prompts.catalog(code).voice for code in settings.languages.offered}
    response = VoiceResponse()
    for code in settings.languages.offered:
        speaker = Speaker(prompts.catalog(code), settings.tz, settings.menu.pause_ms)
        voicing = twiml.Voicing(voices=voices, lang=code)
        twiml.speak(response, speaker.say("fallback_apology", "fallback_message"), voicing)
    base = settings.secrets.public_base_url
    response.record(action=f"{base}/voice/fallback/message", method="POST", max_length=120,
                    finish_on_key="#", play_beep=True, timeout=10, trim="trim-silence")
    response.redirect(f"{base}/voice/fallback", method="POST")
    return response


@bp.post("/fallback")
@twilio_signed
def fallback() -> Response:
    """The number's Fallback URL: static bilingual apology that still takes a callback message."""
    return _xml(_static_fallback(_settings()))


def _callback_requested(session, contact: str) -> bool:
    """True when the number already waits for a fallback callback (a retried message)."""
    active = active_callback_for(session, contact)
    return active is not None and active.reason == "fallback"


@bp.post("/fallback/message")
@twilio_signed
def fallback_message() -> Response:
    """The fallback's message: a case and a callback request, when the database answers."""
    settings = _settings()
    form = request.form
    recording = _field("RecordingUrl", 1000)
    if recording.startswith(("https://", "http://")):
        contact = phone.try_normalize(form.get("From"), settings.city.region)
        try:
            session = get_session()
            subject = prompts.catalog(settings.languages.default).text("voicemail_subject")
            keep_voicemail(
                session, recording_url=recording, seconds=_field("RecordingDuration", 6),
                subject=subject, call_sid=_field("CallSid", 64) or None, contact_e164=contact,
            )
            if contact is not None and not _callback_requested(session, contact):
                request_callback(session, e164=contact, call_id=None, resident_id=None,
                                 language=settings.languages.default, reason="fallback",
                                 window_start=None)
        except Exception:
            # The recording stays in the Twilio account even when the database is down.
            log.exception("fallback message could not be recorded as a case")
    voices = {code: prompts.catalog(code).voice for code in settings.languages.offered}
    response = VoiceResponse()
    for code in settings.languages.offered:
        speaker = Speaker(prompts.catalog(code), settings.tz, settings.menu.pause_ms)
        twiml.speak(response, speaker.say("fallback_thanks"),
                    twiml.Voicing(voices=voices, lang=code))
    response.hangup()
    return _xml(response)


@bp.get("/audio/<lang>/<key>.mp3")
def audio(lang: str, key: str) -> Response:
    """A recorded prompt from the configured audio folder."""
    settings = _settings()
    directory = audio_folder(settings)
    if directory is None or lang not in settings.languages.offered:
        abort(404)
    return send_from_directory(directory / lang, f"{key}.mp3", mimetype="audio/mpeg")
