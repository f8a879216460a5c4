"""The line's webhooks: the hold loop, leaving it, the operator bridge, callbacks, reminders.

Views stay thin: they read the form, call one of the line's services and answer TwiML built by
call_queue.waiting. Whatever fails inside the hold loop, the caller keeps waiting calmly.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

import prompts
from call_queue import (
    line_services,
    operator_bridge,
    reminder_answers,
    reminder_texts,
    waiting,
)
from call_queue.callback_calls import is_machine
from call_queue.holding import Standing
from madoguchi import calls
from madoguchi.db import get_session
from madoguchi.models import Operator
from madoguchi.query_values import parse_whole
from madoguchi.settings import Settings
from madoguchi.voice.apology import apology
from madoguchi.voice.inputs import intent_of, printable, read_reply
from madoguchi.voice.signature import twilio_signed
from madoguchi.voice.speech import Line, Speaker
from madoguchi.voice.twiml import Question, Voicing, announce_then, question

log = logging.getLogger(__name__)

bp = Blueprint("call_queue", __name__, url_prefix="/voice")

CALLBACK_KEY = "1"
# Seconds of quiet between passes of the hold loop (keys are heard during it).
REST_SECONDS = 15
OPERATOR_RING_SECONDS = 30


def _xml(response: VoiceResponse) -> Response:
    return Response(response.to_xml(), mimetype="text/xml")


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


def _lang(raw: str | None) -> str:
    return line_services.spoken_language(raw)


def _voice(lang: str) -> tuple[Speaker, Voicing]:
    settings = _settings()
    speaker = Speaker(prompts.catalog(lang), settings.tz, settings.menu.pause_ms)
    voices = {code: prompts.catalog(code).voice for code in settings.languages.offered}
    return speaker, Voicing(voices=voices, lang=lang,
                            rate_percent=settings.menu.speech_rate_percent)


def _city(lang: str) -> str:
    city = _settings().city
    return city.name if lang == "ja" else city.name_en


def _url(path: str, **params: object) -> str:
    query = urlencode(sorted((k, str(v)) for k, v in params.items() if v is not None))
    return f"{_settings().secrets.public_base_url}/voice/{path}" + (f"?{query}" if query else "")


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name, "")
    return parse_whole(raw)


def _int_form(name: str) -> int | None:
    raw = request.form.get(name, "")
    return parse_whole(raw)


def wait_url(lang: str, due: int | None = None) -> str:
    """The hold loop's URL; `due` is the QueueTime of the next spoken announcement."""
    return _url("queue/wait", l=lang, d=due)


@bp.errorhandler(Exception)
def _failed(exc: Exception) -> Response | HTTPException:
    """Whatever failed (the database restarting, say), Twilio gets an answer, never a 500 page.

    A call hears the apology and goes to the fallback, which takes a message for a callback;
    a status callback gets a bare 500 so that Twilio's log shows it was not recorded.
    """
    if isinstance(exc, HTTPException):
        return exc
    log.exception("line webhook %s failed", request.path)
    try:
        get_session().rollback()
    except Exception:
        log.exception("rollback after a failed line webhook failed too")
    if request.path.endswith("/status"):
        return Response("", status=500)
    return apology()


# ---- holding --------------------------------------------------------------------------


def _announcement(speaker: Speaker, where: Standing | None) -> list[Line | str]:
    lines: list[Line | str] = []
    if where is not None:
        lines.append(speaker.line("queue_position", position=where.position))
        if where.estimate is None:
            # Nobody on duty (closing time, the last operator away): no wait to promise.
            lines.append("queue_nobody_free")
        elif where.estimate.is_short:
            lines.append("queue_wait_short")
        elif where.estimate.about_minutes is not None:
            lines.append(speaker.line("queue_wait_about", minutes=where.estimate.about_minutes))
        else:
            lines.append(speaker.line("queue_wait_range", low=where.estimate.low_minutes,
                                      high=where.estimate.high_minutes))
    lines.append(speaker.line("queue_callback_offer", key=CALLBACK_KEY))
    return lines


@bp.post("/queue/wait")
@twilio_signed
def wait() -> Response:
    """The Enqueue waitUrl: position and estimate at most every interval, a callback offer."""
    lang = _lang(request.args.get("l"))
    speaker, voicing = _voice(lang)
    waited = _int_form("QueueTime") or 0
    due = _int_arg("d")
    interval = _settings().queue.announcement_interval_seconds
    lines: list[Line | str] = []
    if due is None or waited >= due:
        due = waited + interval
        try:
            where = line_services.standing_of(get_session(),
                                              printable(request.form.get("CallSid"), 64))
            lines = _announcement(speaker, where)
        except Exception:
            # Never break the wait (a broken waitUrl ends it): offer the callback without numbers.
            log.exception("hold announcement failed")
            get_session().rollback()
            lines = [speaker.line("queue_callback_offer", key=CALLBACK_KEY)]
    loop = waiting.WaitLoop(
        utterance=speaker.say(*lines) if lines else (), gather_url=_url("queue/choice", l=lang,
                                                                        d=due),
        next_url=wait_url(lang, due), hints=tuple(speaker.catalog.words("callback")),
        language=voicing.voice(lang).language, rest_seconds=min(REST_SECONDS, interval),
    )
    return _xml(waiting.wait_loop(loop, voicing, _settings().menu.pause_ms))


@bp.post("/queue/choice")
@twilio_signed
def choice() -> Response:
    """A key or word during the hold loop: 1 or 折り返し leaves the line for a callback."""
    lang = _lang(request.args.get("l"))
    reply = read_reply(request.form)
    wants_callback = reply.digits == CALLBACK_KEY or (
        not reply.digits and intent_of(reply.speech, prompts.catalog(lang), {"callback"}))
    if wants_callback:
        return _xml(waiting.leave_line())
    return _xml(waiting.back_to_loop(wait_url(lang, _int_arg("d"))))


def _operator_target(operator: Operator | None) -> tuple[str | None, str | None]:
    if operator is None:
        return None, None
    if operator.reach_by == "phone" and operator.phone_e164:
        return None, operator.phone_e164
    return f"operator-{operator.id}", None


def _put_through(utterance, voicing, operator: Operator, action_url: str,
                 leg_status_url: str | None = None) -> Response:
    """TwiML that says the utterance and dials the operator (browser client or their phone)."""
    client, number = _operator_target(operator)
    return _xml(waiting.bridge(utterance, voicing, client=client, number=number,
                               action_url=action_url, ring_seconds=OPERATOR_RING_SECONDS,
                               pause_ms=_settings().menu.pause_ms,
                               leg_status_url=leg_status_url))


@bp.post("/queue/bridge")
@twilio_signed
def bridge() -> Response:
    """A holder taken off hold: put them through to the operator who took them."""
    call, operator = operator_bridge.put_holder_through(get_session(), _int_arg("call") or 0)
    lang = _lang(call.language if call else None)
    speaker, voicing = _voice(lang)
    if call is None or operator is None:
        utterance = speaker.say("queue_joined")
        return _xml(waiting.enqueue(utterance, voicing, wait_url(lang), _url(
            "step/queue_done", l=lang)))
    utterance = speaker.say("queue_connecting")
    return _put_through(utterance, voicing, operator, _url("queue/bridged", call=call.id),
                        _url("queue/leg/status", call=call.id))


@bp.post("/queue/bridged")
@twilio_signed
def bridged() -> Response:
    """After the operator's part: goodbye, or back in line at the same place if they missed it."""
    after = operator_bridge.after_holder_dial(
        get_session(), _int_arg("call") or 0,
        completed=request.form.get("DialCallStatus") == "completed",
        dial_sid=printable(request.form.get("DialCallSid"), 64),
        caller_gone=request.form.get("CallStatus") in calls.FINAL_STATUSES)
    speaker, voicing = _voice(after.language)
    if after.result != operator_bridge.MISSED:
        return _xml(waiting.say_then_hang_up(speaker.say("goodbye"), voicing))
    utterance = speaker.say("queue_operator_missed", "queue_place_kept")
    return _xml(waiting.enqueue(utterance, voicing, wait_url(after.language),
                                _url("step/queue_done", l=after.language)))


@bp.post("/queue/leg/status")
@twilio_signed
def operator_leg_status() -> Response:
    """The operator's leg of a holder's call ended: the operator is freed (once)."""
    session = get_session()
    try:
        operator_bridge.operator_leg_ended(session, _int_arg("call") or 0,
                                           printable(request.form.get("CallStatus"), 20))
    except Exception:
        session.rollback()
        log.exception("operator leg status for call %s failed", request.args.get("call"))
        return Response("", status=500)
    return Response("", status=204)


# ---- callbacks ------------------------------------------------------------------------


@bp.post("/callback/answer")
@twilio_signed
def callback_answer() -> Response:
    """Our callback was answered: a person hears who calls and meets the operator."""
    pick_up = operator_bridge.callback_answered(
        get_session(), _int_arg("attempt") or 0, printable(request.form.get("AnsweredBy"), 30),
        call_sid=printable(request.form.get("CallSid"), 64) or None)
    lang = pick_up.language
    speaker, voicing = _voice(lang)
    if pick_up.attempt_id is None:
        return _xml(waiting.say_then_hang_up((), voicing))
    if pick_up.machine:
        message = speaker.say(speaker.line("callback_machine_message", city=_city(lang)))
        return _xml(waiting.say_then_hang_up(message if pick_up.last_attempt else (), voicing))
    if pick_up.operator is None:
        return _xml(waiting.say_then_hang_up(speaker.say("callback_operator_missed"), voicing))
    utterance = speaker.say(speaker.line("callback_returning", city=_city(lang)))
    return _put_through(utterance, voicing, pick_up.operator,
                        _url("callback/bridged", attempt=pick_up.attempt_id))


@bp.post("/callback/bridged")
@twilio_signed
def callback_bridged() -> Response:
    """After the operator's part of a callback; if the operator missed it, it is tried again."""
    after = operator_bridge.after_callback_dial(
        get_session(), _int_arg("attempt") or 0,
        completed=request.form.get("DialCallStatus") == "completed",
        caller_gone=request.form.get("CallStatus") in calls.FINAL_STATUSES)
    speaker, voicing = _voice(after.language)
    if after.result == operator_bridge.DONE:
        return _xml(waiting.say_then_hang_up(speaker.say("goodbye"), voicing))
    return _xml(waiting.say_then_hang_up(speaker.say("callback_operator_missed"), voicing))


@bp.post("/callback/status")
@twilio_signed
def callback_status() -> Response:
    """Final status of a callback call: reached, retry later, or unreached (once only)."""
    status = printable(request.form.get("CallStatus"), 20)
    session = get_session()
    try:
        line_services.callback_call_ended(
            session, _int_arg("attempt") or 0, status,
            call_sid=printable(request.form.get("CallSid"), 64) or None)
    except Exception:
        session.rollback()
        log.exception("callback status for attempt %s failed", request.args.get("attempt"))
        return Response("", status=500)
    return Response("", status=204)


# ---- appointment reminders ------------------------------------------------------------


def _reminder_question(entry_id: int, kept, stage: str, *, attempt: int = 0,
                       preface: tuple = (), short: bool = False) -> Response:
    """One question of the reminder call: keep or cancel, or the cancellation's read-back."""
    settings = _settings()
    lang = reminder_texts.language_of(settings, kept)
    speaker, voicing = _voice(lang)
    told = reminder_texts.appointment(settings, kept, lang, spoken=True)
    if stage == reminder_answers.ASK:
        about = (speaker.line("reminder_call", city=told.city, name=told.name, when=told.when,
                              place=told.place),)
        choices = speaker.line("reminder_choices", confirm=reminder_answers.CONFIRM_KEY,
                               cancel=reminder_answers.CANCEL_KEY)
    else:
        about = (speaker.line("reminder_cancel_readback", name=told.name, when=told.when,
                              place=told.place),)
        choices = speaker.line("cancel_confirm", yes=reminder_answers.YES_KEY,
                               no=reminder_answers.NO_KEY)
    menu = settings.menu
    lines: list[Line | str] = [*preface, *(() if short else about), choices,
                               speaker.line("repeat_hint", key=menu.repeat_key),
                               speaker.line("operator_hint", key=menu.operator_key)]
    if short and attempt == menu.max_retries:
        lines.append("last_try_warning")
    catalog = speaker.catalog
    hints = tuple(word for intent in ("yes", "no", "keep", "cancel", "repeat", "operator")
                  for word in catalog.words(intent))
    spec = Question(action_url=_url("reminder/choice", reminder=entry_id, s=stage, a=attempt),
                    utterance=speaker.say(*lines), hints=hints,
                    timeout_seconds=min(max(menu.timeout_seconds, 8) + attempt, 10))
    return _xml(question(spec, voicing, menu.pause_ms))


def _reminded(session, entry_id: int):
    """The reminder, its booking, settings, language and voice; or a goodbye when it is gone."""
    found = reminder_answers.reminded_booking(session, entry_id)
    if found is None:
        return _xml(waiting.say_then_hang_up((), _voice(_lang(None))[1]))
    entry, kept = found
    settings = _settings()
    lang = reminder_texts.language_of(settings, kept)
    return entry, kept, settings, lang, _voice(lang)


@bp.post("/reminder/answer")
@twilio_signed
def reminder_answer() -> Response:
    """A reminder call was answered: whose appointment, when and where, then keep or cancel."""
    found = _reminded(get_session(), _int_arg("reminder") or 0)
    if isinstance(found, Response):
        return found
    entry, kept, settings, lang, (speaker, voicing) = found
    if not reminder_answers.still_active(kept):
        return _xml(waiting.say_then_hang_up(speaker.say("already_cancelled", "goodbye"),
                                             voicing))
    if is_machine(printable(request.form.get("AnsweredBy"), 30)):
        told = reminder_texts.appointment(settings, kept, lang, spoken=True)
        said = speaker.say(
            speaker.line("reminder_call", city=told.city, name=told.name, when=told.when,
                         place=told.place),
            speaker.line("reminder_how_to_change", number=told.number))
        return _xml(waiting.say_then_hang_up(said, voicing))
    return _reminder_question(entry.id, kept, reminder_answers.ASK)


def _reminder_person(entry_id: int, lang: str, preface: tuple = ()) -> Response:
    """Put the resident through to a person as the menu's own "person" step does."""
    speaker, voicing = _voice(lang)
    step = _url("step/reminder_person", i=entry_id, l=lang)
    return _xml(announce_then(speaker.say(*preface), voicing, step, _settings().menu.pause_ms))


@bp.post("/reminder/choice")
@twilio_signed
def reminder_choice() -> Response:
    """1 keeps the booking; 5, then 1 after the read-back, cancels it; 9 repeats; 0 a person."""
    session = get_session()
    entry_id = _int_arg("reminder") or 0
    stage = request.args.get("s", "")
    stage = stage if stage in reminder_answers.STAGES else reminder_answers.ASK
    attempt = min(_int_arg("a") or 0, 10)
    found = _reminded(session, entry_id)
    if isinstance(found, Response):
        return found
    entry, kept, settings, lang, (speaker, voicing) = found
    reply = read_reply(request.form)
    if reply.star_only or reply.hash_only:
        # A pulse phone switching to tones, or the # after a 1: the same question at once.
        return _reminder_question(entry.id, kept, stage, attempt=attempt,
                                  preface=("star_cue",) if reply.star_only else ())
    key = reply.digits
    if not key and reply.speech:
        intent = intent_of(reply.speech, speaker.catalog,
                           {"operator", "repeat", *reminder_answers.SPOKEN[stage]})
        key = {"operator": settings.menu.operator_key, "repeat": settings.menu.repeat_key,
               **reminder_answers.SPOKEN[stage]}.get(intent or "", "")
    chosen = reminder_answers.decide(stage, key, attempt=attempt,
                                     max_retries=settings.menu.max_retries,
                                     repeat_key=settings.menu.repeat_key,
                                     operator_key=settings.menu.operator_key)
    if chosen.move == reminder_answers.PERSON:
        return _reminder_person(entry.id, lang, () if key == settings.menu.operator_key
                                else ("connecting",))
    if not reminder_answers.still_active(kept) and chosen.move != reminder_answers.CANCEL:
        return _xml(waiting.say_then_hang_up(speaker.say("already_cancelled", "goodbye"),
                                             voicing))
    if chosen.move == reminder_answers.KEEP:
        reminder_answers.keep(session, entry.id)
        return _xml(waiting.say_then_hang_up(speaker.say("reminder_confirmed", "goodbye"),
                                             voicing))
    if chosen.move == reminder_answers.CANCEL:
        reminder_answers.cancel(session, entry.id)
        told = reminder_texts.appointment(settings, kept, lang, spoken=True)
        said = speaker.say(speaker.line("reminder_cancelled", number=told.number), "goodbye")
        return _xml(waiting.say_then_hang_up(said, voicing))
    if chosen.move == reminder_answers.READ_BACK:
        return _reminder_question(entry.id, kept, reminder_answers.CANCEL_OK)
    if chosen.move == reminder_answers.NOT_CANCELLED:
        return _reminder_question(entry.id, kept, reminder_answers.ASK,
                                  preface=("not_cancelled",))
    if chosen.move == reminder_answers.REPEAT:
        return _reminder_question(entry.id, kept, stage, attempt=chosen.attempt)
    return _reminder_question(entry.id, kept, stage, attempt=chosen.attempt,
                              preface=(chosen.cue,), short=True)


@bp.post("/reminder/status")
@twilio_signed
def reminder_status() -> Response:
    """A reminder call that was not answered is noted in the ledger (it is not sent again)."""
    reminder_answers.call_ended(get_session(), _int_arg("reminder") or 0,
                                printable(request.form.get("CallStatus"), 20),
                                call_sid=printable(request.form.get("CallSid"), 64) or None)
    return Response("", status=204)
