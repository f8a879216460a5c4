"""The voice webhooks: parse the request, hand it to the call flow, answer TwiML.

All POST webhooks are signature-checked before anything is read or recorded. Whatever goes
wrong inside, the caller hears an apology and is sent to the fallback, never silence.
"""

from __future__ import annotations

import logging
import secrets

from flask import Blueprint, Response, abort, current_app, request, send_from_directory
from twilio.twiml.voice_response import VoiceResponse

from call_queue import callbacks as line_callbacks
from call_queue import operator_bridge
from ivr import fallback as fallback_answers
from ivr.flow import CallFlow, open_flow
from ivr.state import State
from ivr.steps import STEPS
from ivr.voicemail import keep_fallback_message
from madoguchi import calls
from madoguchi.db import get_session
from madoguchi.query_values import parse_whole
from madoguchi.settings import Settings
from madoguchi.telephony import get_telephony
from madoguchi.voice.apology import apology
from madoguchi.voice.audio import audio_folder
from madoguchi.voice.inputs import printable
from madoguchi.voice.signature import twilio_signed

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
    # On a call the city placed (a reminder), the resident is the one called, not the caller.
    outbound = _field("Direction", 20).startswith("outbound")
    resident_side, city_side = ("To", "From") if outbound else ("From", "To")
    return open_flow(
        settings, get_session, State.parse(step, request.args, list(settings.languages.offered)),
        call_sid=_field("CallSid", 64) or f"unknown-{secrets.token_hex(8)}",
        from_raw=request.form.get(resident_side), to_number=_field(city_side, 32),
    )


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
        call = calls.apply_status(
            session, call_sid, status=_field("CallStatus", 20) or "unknown",
            sequence=parse_whole(sequence, max_digits=8),
            duration_seconds=parse_whole(duration, max_digits=8),
            from_raw=form.get("From"), to_number=_field("To", 32), region=settings.city.region,
        )
        if _field("CallStatus", 20) in calls.FINAL_STATUSES:
            # A caller who hung up while put through frees their operator here at the latest.
            operator_bridge.holder_call_ended(session, call_sid)
            line_callbacks.settle_callback_outcome(
                session, call, settings, lambda to, body: get_telephony().send_sms(to, body))
    except Exception:
        session.rollback()
        log.exception("status callback for %s failed", call_sid)
        return Response("", status=500)
    return Response("", status=204)


@bp.post("/fallback")
@twilio_signed
def fallback() -> Response:
    """The number's Fallback URL: static bilingual apology that still takes a callback message."""
    return _xml(fallback_answers.apology_taking_a_message(_settings()))


@bp.post("/fallback/message")
@twilio_signed
def fallback_message() -> Response:
    """The fallback's message: a case and a callback request, when the database answers."""
    settings = _settings()
    recording = _field("RecordingUrl", 1000)
    if recording.startswith(("https://", "http://")):
        try:
            keep_fallback_message(
                get_session(), recording_url=recording, seconds=_field("RecordingDuration", 6),
                call_sid=_field("CallSid", 64) or None, from_raw=request.form.get("From"),
                region=settings.city.region, language=settings.languages.default,
                due_hours=settings.inquiries.voicemail_due_hours,
            )
        except Exception:
            # The recording stays in the Twilio account even when the database is down.
            log.exception("fallback message could not be recorded as a case")
    return _xml(fallback_answers.thanks_for_the_message(settings))


@bp.get("/audio/<lang>/<key>.mp3")
def audio(lang: str, key: str) -> Response:
    """A recorded prompt from the configured audio folder."""
    settings = _settings()
    directory = audio_folder(settings)
    if directory is None or lang not in settings.languages.offered:
        abort(404)
    return send_from_directory(directory / lang, f"{key}.mp3", mimetype="audio/mpeg")
