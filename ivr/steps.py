"""The steps of a call: greeting and menu, identification, FAQ, a person, callback, voicemail.

Each step is a question builder (q_*), an answer handler for its choices (c_*) or digit entry
(e_*), a router that only decides where to go (r_*), or a webhook Twilio calls after <Dial> or
<Record> (w_*). The registries at the end are the call flow as data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING

import prompts
from call_queue import callbacks as line_callbacks
from call_queue import reminder_answers, windows
from ivr import faq_cache, faq_pages, line_entry
from ivr.birthdate import parse_birth_date
from ivr.booking_steps import (
    c_book_ok,
    c_cancel_ok,
    c_existing,
    c_move_ok,
    c_slots,
    code_holder,
    code_identified,
    q_book_ok,
    q_cancel_ok,
    q_existing,
    q_move_ok,
    q_slots,
    r_book,
    r_check_identified,
)
from ivr.booking_steps import e_code as lookup_code
from ivr.case_steps import r_cases_identified
from ivr.state import NO, YES, Ask, Go, Invalid, Outcome, new_nonce, options, yes_no
from ivr.voicemail import keep_voicemail
from madoguchi import calls, hours, phone, residents
from madoguchi.telephony import get_telephony
from madoguchi.voice import twiml
from madoguchi.voice.audio import faq_key
from madoguchi.voice.inputs import printable
from madoguchi.voice.speech import Line

if TYPE_CHECKING:
    from ivr.flow import CallFlow

log = logging.getLogger(__name__)

VOICEMAIL_MAX_SECONDS = 120
DIAL_RING_SECONDS = 30
# Steps after which ending the call is the caller's own choice (used by the property test).
FINISHING_STEPS = {"after_task", "faq_answer", "cb_number_ok", "cb_window", "voicemail_done",
                   "dial_done"}


def q_language(flow: CallFlow) -> Ask:
    """Ask for the language, each option in its own voice."""
    lines, choices = [], {}
    for index, code in enumerate(flow.settings.languages.offered, start=1):
        text = prompts.catalog(code).text("language_option", key=index)
        lines.append(Line(text, "language_option", lang=code))
        choices[str(index)] = f"lang:{code}"
    return Ask(tuple(lines), tuple(lines), choices)


def q_menu(flow: CallFlow) -> Ask:
    """The main menu from config.toml, option before key."""
    pairs = [(f"option_{name}", str(index), name)
             for index, name in enumerate(flow.menu.options, start=1)]
    lines, choices = options(flow, pairs)
    return Ask(("menu_intro", *lines), lines, choices)


def q_check(flow: CallFlow) -> Ask:
    """Ask whether the caller knows a reference number."""
    lines, choices = options(flow, [("option_code", "1", "code"),
                                     ("option_identity", "2", "identity")])
    return Ask(lines, lines, choices)


def q_code(flow: CallFlow) -> Ask:
    """Ask for a booking or inquiry reference number."""
    return Ask(("code_ask",), ("code_ask",))


def q_resident_no(flow: CallFlow) -> Ask:
    """Ask for the resident number, finished with #."""
    return Ask(("resident_no_ask",), ("resident_no_ask",))


def q_birth(flow: CallFlow) -> Ask:
    """Ask for the birth date (西暦 or 和暦), finished with #."""
    return Ask(("birth_ask",), ("birth_ask_short",))


def q_birth_ok(flow: CallFlow) -> Ask | Go:
    """Read the keyed birth date back and ask to confirm it."""
    kept = calls.recall(flow.session, flow.call, "birth")
    if not isinstance(kept, dict):
        # A retried confirmation finds the birth date already used and forgotten.
        if flow.call.resident_id is not None:
            if flow.state.goal == "code":
                return code_identified(flow)
            return Go(after_identify(flow.state.goal))
        return Go("birth")
    spoken = flow.speaker.birth_date(date.fromisoformat(kept["date"]), kept.get("era"),
                                     kept.get("era_year"))
    lines = (flow.speaker.line("birth_readback", date=spoken), yes_no(flow))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def _faq_titles(flow: CallFlow) -> list[tuple[int, str, str]]:
    """(id, title, answer) of active FAQ entries in the caller's language (or the default)."""
    found = []
    for item in faq_cache.active_items(flow.session):
        text = item.texts.get(flow.state.lang) or item.texts.get(flow.settings.languages.default)
        if text is not None:
            found.append((item.id, *text))
    return found


def q_faq(flow: CallFlow) -> Ask | Go:
    """List FAQ titles from the database, a page at a time."""
    entries = _faq_titles(flow)
    if not entries:
        return Go("after_task", ("faq_none",))
    if flow.state.offered:
        page = [e for e in entries if e[0] in flow.state.offered]
        more = bool(entries) and entries[-1][0] not in flow.state.offered
    else:
        page, more = faq_pages.page_at(entries, flow.state.after or 0)
    lines, choices = [], {}
    for index, (entry_id, title, _) in enumerate(page, start=1):
        lines.append(flow.speaker.line("faq_option", title=title, key=index))
        choices[str(index)] = f"faq:{entry_id}"
    if more:
        lines.append(flow.speaker.line("faq_more", key=flow.later_key))
        choices[flow.later_key] = "later"
    return Ask(("faq_intro", *lines), tuple(lines), choices, offered=tuple(e[0] for e in page))


def q_faq_answer(flow: CallFlow) -> Ask | Go:
    """Read one FAQ answer, then offer more questions, the menu or the end."""
    answer = next((e[2] for e in _faq_titles(flow) if e[0] == flow.state.item), None)
    if answer is None:
        return Go("faq")
    lines, choices = options(flow, [("faq_more", "1", "faq"), ("option_menu", "2", "menu"),
                                    ("option_end", "3", "goodbye")])
    # Keyed so that a recorded answer (audio folder, faq_<id>.mp3) plays instead of the voice.
    return Ask((Line(answer, faq_key(flow.state.item)), *lines), lines, choices)


def q_after_task(flow: CallFlow) -> Ask:
    """Ask whether there is anything else, or the end of the call."""
    lines, choices = options(flow, [("after_task", "1", "menu"), ("option_end", "2", "goodbye")])
    return Ask(lines, lines, choices)


def q_callback_offer(flow: CallFlow) -> Ask:
    """Offer a callback or a voicemail; with a caller ID, pressing nothing means the callback."""
    lines, choices = options(flow, [("option_callback", "1", "callback"),
                                     ("option_voicemail", "2", "voicemail")])
    number = flow.caller_number()
    if number is None:
        return Ask(lines, lines, choices)
    default = flow.speaker.line("callback_offer_default",
                                number=flow.speaker.phone_number(number))
    return Ask((*lines, default), (*lines, default), choices)


def q_cb_number(flow: CallFlow) -> Ask:
    """Ask for the number to call back, finished with #."""
    return Ask(("callback_number_ask",), ("callback_number_ask",))


def q_cb_number_ok(flow: CallFlow) -> Ask | Go:
    """Read the callback number back digit by digit and ask to confirm it."""
    number = calls.recall(flow.session, flow.call, "callback_number")
    if not isinstance(number, str):
        return Go("cb_number")
    lines = (flow.speaker.line("callback_number_readback",
                               number=flow.speaker.phone_number(number)),
             yes_no(flow, "callback_number_confirm"))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def _callback_windows(flow: CallFlow) -> list[windows.CallbackWindow]:
    """The windows this question offered (kept in the URL), else those open now."""
    if flow.state.offered:
        return windows.from_offer_codes(flow.settings, flow.now, flow.state.offered)
    return windows.offered_windows(flow.settings, flow.now)


def _spoken_window(flow: CallFlow, window: windows.CallbackWindow) -> str:
    start, end = window.local_times()
    return flow.speaker.window(window.day, window.part, start, end)


def q_cb_window(flow: CallFlow) -> Ask:
    """Offer "as soon as possible" first, then later windows today or tomorrow while open."""
    offered = _callback_windows(flow)
    lines = [flow.speaker.line("callback_window_soon", key=1)]
    choices = {"1": "soon"}
    for index, window in enumerate(offered):
        key = str(index + 2)
        lines.append(flow.speaker.line("callback_window_option", key=key,
                                       window=_spoken_window(flow, window)))
        choices[key] = f"window:{index}"
    full = ("callback_window_intro", *lines, "callback_window_default")
    return Ask(full, tuple(lines), choices, offered=windows.offer_codes(offered))


def c_language(flow: CallFlow, value: str) -> Outcome:
    """Switch the rest of the call to the chosen language."""
    lang = value.removeprefix("lang:")
    flow.call.language = lang
    flow.session.commit()
    greeted_in = flow.state.lang
    flow.state = replace(flow.state, lang=lang)
    flow.speaker = flow.speaker_for(lang)
    if lang == greeted_in:
        return Go("menu")
    # The greeting said the person key in the first language only: say it again in this one.
    return Go("menu", (flow.speaker.line("greeting_operator", key=flow.menu.operator_key),))


def c_menu(flow: CallFlow, value: str) -> Outcome:
    """Go to the chosen branch of the main menu."""
    return {
        "book": Go("identify", changes={"goal": "book"}),
        "check": Go("check"),
        "faq": Go("faq"),
    }.get(value, Go("person"))


def c_check(flow: CallFlow, value: str) -> Outcome:
    """Look up by reference number, or identify the caller first."""
    return Go("code") if value == "code" else Go("identify", changes={"goal": "check"})


def c_birth_ok(flow: CallFlow, value: str) -> Outcome:
    """Identify the caller from the confirmed birth date, or ask again."""
    if value == "no":
        return Go("birth")
    kept = calls.recall(flow.session, flow.call, "birth")
    birth = date.fromisoformat(kept["date"])
    if flow.state.goal == "code":
        holder = code_holder(flow)
        candidates = [holder] if holder else []
    elif flow.state.via_caller_id and flow.call.from_e164:
        candidates = residents.by_phone(flow.session, flow.call.from_e164)
    else:
        number = calls.recall(flow.session, flow.call, "resident_no")
        found = residents.by_resident_no(flow.session, number) if number else None
        candidates = [found] if found else []
    match = next((r for r in candidates if r.birth_date == birth), None)
    calls.forget(flow.session, flow.call, "birth", "resident_no")
    if match is None:
        failures = (calls.recall(flow.session, flow.call, "id_failures") or 0) + 1
        calls.remember(flow.session, flow.call, "id_failures", failures)
        calls.add_path(flow.session, flow.call, "identify_failed")
        if failures >= flow.menu.max_retries:
            return Go("person", ("identify_failed",))
        if flow.state.goal == "code":
            return Go("birth", ("identify_failed",))
        return Go("resident_no", ("identify_failed",), {"via_caller_id": False})
    flow.identify(match.id)
    calls.add_path(flow.session, flow.call, "identified")
    if flow.state.goal == "code":
        return code_identified(flow)
    return Go(after_identify(flow.state.goal), ("identify_ok",))


def c_faq(flow: CallFlow, value: str) -> Outcome:
    """Read the chosen answer, or the next page of questions."""
    if value == "later":
        entries = [e[0] for e in _faq_titles(flow)]
        last = flow.state.offered[-1] if flow.state.offered else None
        start = entries.index(last) + 1 if last in entries else 0
        return Go("faq", changes={"after": start})
    calls.set_outcome(flow.session, flow.call, "self_served")
    return Go("faq_answer", changes={"item": int(value.removeprefix("faq:"))})


def c_faq_answer(flow: CallFlow, value: str) -> Outcome:
    """After an answer: more questions, the menu, or goodbye."""
    return c_after_task(flow, value)


def c_after_task(flow: CallFlow, value: str) -> Outcome:
    """Back to the menu, or goodbye now that the caller has finished."""
    if value == "goodbye":
        calls.set_outcome(flow.session, flow.call, "self_served")
        calls.add_path(flow.session, flow.call, "goodbye")
        return flow.say_then_end()
    return Go(value)


def c_callback_offer(flow: CallFlow, value: str) -> Outcome:
    """Take a callback number (caller ID first), or a voicemail."""
    if value == "voicemail":
        return Go("voicemail")
    if flow.call.from_e164:
        calls.remember(flow.session, flow.call, "callback_number", flow.call.from_e164)
        return Go("cb_number_ok")
    return Go("cb_number")


def c_cb_number_ok(flow: CallFlow, value: str) -> Outcome:
    """Once the number is confirmed: a choice of time when windows are open, else take it now."""
    if value == "no":
        calls.forget(flow.session, flow.call, "callback_number")
        return Go("cb_number")
    if windows.offered_windows(flow.settings, flow.now):
        return Go("cb_window")
    return _take_callback(flow, None)


def c_cb_window(flow: CallFlow, value: str) -> Outcome:
    """Record the callback for the chosen window, or as soon as possible."""
    chosen = None
    if value.startswith("window:"):
        offered = _callback_windows(flow)
        index = int(value.removeprefix("window:"))
        chosen = offered[index] if index < len(offered) else None
    return _take_callback(flow, chosen)


def _take_callback(flow: CallFlow, window: windows.CallbackWindow | None, *,
                   silent: bool = False) -> Outcome:
    """Record the callback request, then say when we will call and from which number.

    A silent caller is told which of their numbers we will call, as they could not confirm it.
    """
    number = calls.recall(flow.session, flow.call, "callback_number")
    if not isinstance(number, str):
        return Go("cb_number")  # a retried answer after the number was already used
    later = line_callbacks.soonest_start(flow.settings, flow.now)
    start, end = (window.start, window.end) if window else (later, None)

    def work() -> dict:
        request = line_callbacks.ask_for_callback(
            flow.session, flow.settings, flow.call, number=number, language=flow.state.lang,
            reason="silent_caller" if silent else "operator", window_start=start,
            window_end=end, send_sms=lambda to, body: get_telephony().send_sms(to, body))
        return {"callback_request_id": request.id}

    calls.once(flow.session, flow.call,
               "callback:silent" if silent else f"callback:{flow.state.nonce}", work)
    calls.set_outcome(flow.session, flow.call, "callback")
    calls.add_path(flow.session, flow.call, "callback_requested", "window" if window else "soon")
    city = flow.city_name()
    if silent:
        number = flow.speaker.phone_number(number)
        taken = (flow.speaker.line("callback_silent_soon", city=city, number=number)
                 if later is None else
                 flow.speaker.line("callback_silent_later", city=city, number=number,
                                   when=flow.speaker.when(later)))
    elif window is not None:
        taken = flow.speaker.line("callback_taken_window", city=city,
                                  window=_spoken_window(flow, window))
    elif later is None:
        taken = flow.speaker.line("callback_taken_soon", city=city)
    else:
        taken = flow.speaker.line("callback_taken_later", city=city,
                                  when=flow.speaker.when(later))
    caller_id = line_callbacks.calling_e164(flow.settings)
    told = (taken,) if caller_id is None else (taken, flow.speaker.line(
        "callback_from_number", number=flow.speaker.phone_number(caller_id)))
    if silent:
        # Silence never ends a call: the caller stays on the line with the usual last question.
        return Go("after_task", told)
    return flow.say_then_end(*told)


def e_resident_no(flow: CallFlow, digits: str) -> Outcome:
    """Keep the resident number for the birth date question (read back first if it was said)."""
    if not 4 <= len(digits) <= 20:
        return Invalid("resident_no_invalid")
    calls.remember(flow.session, flow.call, "resident_no", digits)
    return Go("resident_no_ok") if flow.heard_spoken else Go("birth")


def e_code(flow: CallFlow, digits: str) -> Outcome:
    """A keyed reference goes straight to its look-up; a spoken one is read back first."""
    if not flow.heard_spoken:
        return lookup_code(flow, digits)
    if not digits:
        return Invalid("code_not_found")
    calls.remember(flow.session, flow.call, "spoken_code", digits)
    return Go("code_ok")


def q_resident_no_ok(flow: CallFlow) -> Ask | Go:
    """Read a spoken resident number back digit by digit and ask to confirm it."""
    number = calls.recall(flow.session, flow.call, "resident_no")
    if not isinstance(number, str):
        return Go("birth") if flow.call.resident_id is None else Go("menu")
    lines = (flow.speaker.line("resident_no_readback", number=flow.speaker.digits(number)),
             yes_no(flow))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def c_resident_no_ok(flow: CallFlow, value: str) -> Outcome:
    """On to the birth date, or ask the number again."""
    if value == "no":
        calls.forget(flow.session, flow.call, "resident_no")
        return Go("resident_no")
    return Go("birth")


def q_code_ok(flow: CallFlow) -> Ask | Go:
    """Read a spoken reference back digit by digit and ask to confirm it."""
    code = calls.recall(flow.session, flow.call, "spoken_code")
    if not isinstance(code, str):
        return Go("code")
    lines = (flow.speaker.line("code_readback", code=flow.speaker.digits(code)), yes_no(flow))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def c_code_ok(flow: CallFlow, value: str) -> Outcome:
    """Look the confirmed reference up, or ask for it again."""
    code = calls.recall(flow.session, flow.call, "spoken_code")
    calls.forget(flow.session, flow.call, "spoken_code")
    if value == "no" or not isinstance(code, str):
        return Go("code")
    found = lookup_code(flow, code)
    if isinstance(found, Invalid):
        return Go("code", (found.cue,))
    return found


def e_birth(flow: CallFlow, digits: str) -> Outcome:
    """Keep the birth date (never in the URL or the path) for its read-back."""
    keyed = parse_birth_date(digits, flow.now.astimezone(flow.settings.tz).date())
    if keyed is None:
        return Invalid("birth_invalid")
    calls.remember(flow.session, flow.call, "birth", {
        "date": keyed.value.isoformat(), "era": keyed.era, "era_year": keyed.era_year})
    return Go("birth_ok")


def e_cb_number(flow: CallFlow, digits: str) -> Outcome:
    """Normalise the keyed number (full-width, 184/186) for its read-back."""
    number = phone.try_normalize(digits, flow.settings.city.region)
    if number is None:
        return Invalid("callback_number_invalid")
    calls.remember(flow.session, flow.call, "callback_number", number)
    return Go("cb_number_ok")


def after_identify(goal: str) -> str:
    """Where an identified caller goes: their cases and booking for a check, else booking."""
    return "cases_identified" if goal == "check" else "book"


def r_identify(flow: CallFlow) -> Outcome:
    """Skip identification when done, use a known caller ID, or ask the number."""
    goal = flow.state.goal or "book"
    resident_id, registered = flow.caller_on_record()
    if resident_id is not None:
        return Go(after_identify(goal))
    if registered:
        return Go("birth", ("identify_callerid",), {"via_caller_id": True})
    return Go("resident_no", changes={"via_caller_id": False})


def r_person(flow: CallFlow) -> Outcome:
    """Put the caller through to a person within hours, else offer a callback."""
    calls.add_path(flow.session, flow.call, "person")
    is_open = hours.is_open(flow.settings, flow.now)
    held = line_entry.hold(flow) if is_open else None
    if held is not None:
        return held
    number = phone.try_normalize(flow.settings.queue.fallback_number, flow.settings.city.region)
    if is_open and number:
        calls.set_outcome(flow.session, flow.call, "queued")
        utterance = flow.utter([*flow.preface, "connecting"])
        return twiml.connect(utterance, flow.voicing(utterance), number,
                             flow.url("dial_done"), DIAL_RING_SECONDS, flow.menu.pause_ms)
    preface = ("cannot_connect",) if is_open else ("closed", *flow.hours_lines())
    if flow.state.quiet and flow.caller_number():
        # Silent since the greeting: another question would only cost them half a minute more.
        return Go("unanswered", preface)
    return Go("callback_offer", preface)


def r_unanswered(flow: CallFlow) -> Outcome:
    """No answer on the way to a callback: call back the caller's own number, saying which.

    Without a caller ID there is no number to call: the caller is offered the recording once,
    then told plainly how else the city can be reached. Either way the call goes on (silence
    never ends a call) with the usual last question.
    """
    if flow.call.from_e164:
        calls.remember(flow.session, flow.call, "callback_number", flow.call.from_e164)
        calls.add_path(flow.session, flow.call, "silent_callback")
        return _take_callback(flow, None, silent=True)
    if not calls.recall(flow.session, flow.call, "recording_offered"):
        return Go("voicemail")
    return Go("after_task", tuple(other_ways(flow)))


def other_ways(flow: CallFlow) -> list[Line | str]:
    """How a caller whose number is withheld can still reach the city: counter, shown number."""
    calls.add_path(flow.session, flow.call, "other_ways")
    return [flow.speaker.line("other_ways_withheld", city=flow.city_name()),
            flow.speaker.line("other_ways_counter", city=flow.city_name()),
            *flow.hours_lines(), "other_ways_shown_number"]


def r_voicemail(flow: CallFlow) -> Outcome:
    """Announce the recording and record a message (no transcription)."""
    calls.remember(flow.session, flow.call, "recording_offered", True)
    calls.add_path(flow.session, flow.call, "voicemail")
    flow.state = replace(flow.state, step="voicemail_done", attempt=0,
                         nonce=new_nonce())
    utterance = flow.utter([*flow.preface, "voicemail_intro"])
    return twiml.record_message(utterance, flow.voicing(utterance), flow.url("voicemail_done"),
                                VOICEMAIL_MAX_SECONDS, flow.menu.pause_ms)


def w_dial_done(flow: CallFlow, form: Mapping[str, str]) -> Outcome:
    """After the person's call: goodbye, or a callback offer if it failed."""
    if form.get("DialCallStatus") == "completed":
        calls.add_path(flow.session, flow.call, "operator_done")
        return flow.say_then_end()
    calls.add_path(flow.session, flow.call, "dial_failed",
                   printable(form.get("DialCallStatus"), 20))
    return Go("callback_offer", ("dial_failed",))


def w_voicemail_done(flow: CallFlow, form: Mapping[str, str]) -> Outcome:
    """Keep the recording as an inquiry case and say its number twice."""
    recording = printable(form.get("RecordingUrl"), 1000)
    if not recording.startswith(("https://", "http://")):
        return _after_empty_voicemail(flow)
    seconds = printable(form.get("RecordingDuration"), 6)
    call = flow.call

    def work() -> dict:
        inquiry = keep_voicemail(
            flow.session, recording_url=recording, seconds=seconds, call_sid=call.call_sid,
            subject=flow.speaker.catalog.text("voicemail_subject"),
            resident_id=call.resident_id, contact_e164=call.from_e164,
            due_hours=flow.settings.inquiries.voicemail_due_hours,
        )
        return {"inquiry_id": inquiry.id, "reference": inquiry.reference}

    result = calls.once(flow.session, call, f"voicemail:{flow.state.nonce}", work)
    calls.set_outcome(flow.session, call, "voicemail")
    calls.add_path(flow.session, call, "voicemail_recorded")
    return flow.say_then_end("voicemail_taken", *flow.code_lines(
        "voicemail_reference", "voicemail_reference_again", result["reference"]))


def _after_empty_voicemail(flow: CallFlow) -> Outcome:
    """Nothing was recorded: the callback offer again, or the other ways for a withheld number.

    With a caller ID, pressing nothing at the offer now means the callback on that number, so a
    caller who can neither press nor speak is called back instead of going round the recording.
    A withheld caller was offered the recording once; they hear how else to reach the city.
    """
    if flow.call.from_e164:
        return Go("callback_offer", ("voicemail_empty",))
    return Go("after_task", ("voicemail_empty", *other_ways(flow)))


def w_reminder_person(flow: CallFlow, form: Mapping[str, str]) -> Outcome:
    """A resident on a reminder call asked for a person (or gave no answer): put them through.

    The operator sees whose appointment it is: the reminded booking's resident is the caller.
    """
    found = reminder_answers.reminded_booking(flow.session, flow.state.item or 0)
    if found is not None and flow.call.resident_id is None:
        flow.identify(found[1].resident_id)
    calls.add_path(flow.session, flow.call, "reminder_person")
    return Go("person")


QUESTIONS: dict[str, Callable[[CallFlow], Ask | Go]] = {
    "language": q_language, "menu": q_menu, "check": q_check, "code": q_code,
    "resident_no": q_resident_no, "birth": q_birth, "birth_ok": q_birth_ok, "slots": q_slots,
    "book_ok": q_book_ok, "existing": q_existing, "move_ok": q_move_ok,
    "cancel_ok": q_cancel_ok, "faq": q_faq, "faq_answer": q_faq_answer,
    "after_task": q_after_task, "callback_offer": q_callback_offer, "cb_number": q_cb_number,
    "cb_number_ok": q_cb_number_ok, "cb_window": q_cb_window,
    "resident_no_ok": q_resident_no_ok, "code_ok": q_code_ok,
}


CHOICES: dict[str, Callable[[CallFlow, str], Outcome]] = {
    "language": c_language, "menu": c_menu, "check": c_check, "birth_ok": c_birth_ok,
    "slots": c_slots, "book_ok": c_book_ok, "existing": c_existing, "move_ok": c_move_ok,
    "cancel_ok": c_cancel_ok, "faq": c_faq, "faq_answer": c_faq_answer,
    "after_task": c_after_task, "callback_offer": c_callback_offer,
    "cb_number_ok": c_cb_number_ok, "cb_window": c_cb_window,
    "resident_no_ok": c_resident_no_ok, "code_ok": c_code_ok,
}


ENTRIES: dict[str, Callable[[CallFlow, str], Outcome]] = {
    "code": e_code, "resident_no": e_resident_no, "birth": e_birth, "cb_number": e_cb_number,
}


ROUTERS: dict[str, Callable[[CallFlow], Outcome]] = {
    "identify": r_identify, "book": r_book, "check_identified": r_check_identified,
    "person": r_person, "voicemail": r_voicemail, "unanswered": r_unanswered,
    "cases_identified": r_cases_identified,
}


WEBHOOKS: dict[str, Callable[[CallFlow, Mapping[str, str]], Outcome]] = {
    "dial_done": w_dial_done, "voicemail_done": w_voicemail_done,
    "queue_done": line_entry.queue_done, "reminder_person": w_reminder_person,
}


STEPS = sorted({*QUESTIONS, *WEBHOOKS})
