"""The call as a set of questions: what each step asks, and where each answer leads.

A step is a question (a <Gather>), a router that decides the next question from the database
(identify, book, person, …), or a webhook Twilio calls back (dial_done, voicemail_done). The
step, the attempt count, the language and a per-question nonce travel in the action URL; what
the caller keyed in that must not appear in a URL (a birth date, a phone number) is kept with
the call in the database. Every side effect runs through calls.once keyed by the nonce, so a
retried webhook changes nothing twice.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

import prompts
from ivr import twiml
from ivr.birthdate import parse_birth_date
from ivr.callbacks import request_callback
from ivr.inputs import Reply, intent_of, names_language, printable, read_reply
from ivr.speech import Line, Speaker, Utterance
from madoguchi import booking, calls, codes, hours, inquiries, phone, residents
from madoguchi.models import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    Call,
    Campaign,
    FaqEntry,
    InquiryEvent,
    Resident,
    ResidentPhone,
    Slot,
    utcnow,
)
from madoguchi.settings import Settings

log = logging.getLogger(__name__)

YES, NO = "1", "2"
FAQ_PAGE = 3
VOICEMAIL_MAX_SECONDS = 120
DIAL_RING_SECONDS = 30
# Steps whose silence, after the last re-prompt, leads to a voicemail rather than to a person:
# the caller is already on the way to a callback, so sending them "to a person" would loop.
GIVE_UP_TO_VOICEMAIL = {"callback_offer", "cb_number", "cb_number_ok"}
# Webhooks that end the call after the caller has finished (used by the property test).
FINISHING_STEPS = {"after_task", "faq_answer", "cb_number_ok", "voicemail_done", "dial_done"}


@dataclass(frozen=True)
class State:
    """What travels in the action URL: never personal data."""

    step: str
    lang: str
    attempt: int = 0
    quiet: bool = False
    goal: str = ""
    via_caller_id: bool = False
    move: bool = False
    offered: tuple[int, ...] = ()
    after: int | None = None
    item: int | None = None
    nonce: str = ""

    def query(self) -> dict[str, str]:
        """The state as URL query parameters."""
        params = {"l": self.lang, "a": str(self.attempt), "k": self.nonce}
        flags = {"q": self.quiet, "c": self.via_caller_id, "m": self.move}
        params.update({name: "1" for name, on in flags.items() if on})
        if self.goal:
            params["g"] = self.goal
        if self.offered:
            params["o"] = ".".join(str(n) for n in self.offered)
        if self.after is not None:
            params["p"] = str(self.after)
        if self.item is not None:
            params["i"] = str(self.item)
        return params

    @classmethod
    def parse(cls, step: str, args: Mapping[str, str], languages: list[str]) -> State:
        """The state from query parameters; anything malformed falls back to a safe default."""

        def number(name: str, default: int | None) -> int | None:
            raw = args.get(name, "")
            return int(raw) if raw.isdigit() and len(raw) < 10 else default

        lang = args.get("l", "")
        nonce = args.get("k", "")[:16]
        offered = tuple(
            int(part) for part in args.get("o", "").split(".")[:6] if part.isdigit()
            and len(part) < 10
        )
        return cls(
            step=step,
            lang=lang if lang in languages else languages[0],
            attempt=min(number("a", 0) or 0, 10),
            quiet=args.get("q") == "1",
            goal=args.get("g", "") if args.get("g") in ("book", "check") else "",
            via_caller_id=args.get("c") == "1",
            move=args.get("m") == "1",
            offered=offered,
            after=number("p", None),
            item=number("i", None),
            nonce=nonce if nonce.isascii() and nonce.isalnum() else "",
        )


@dataclass(frozen=True)
class Go:
    """Continue with another step, first saying the preface (state changes apply)."""

    step: str
    preface: tuple[Line | str, ...] = ()
    changes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Invalid:
    """The answer was understood but is not acceptable; re-ask with this cue (an error)."""

    cue: str


@dataclass(frozen=True)
class Ask:
    """A question: full and short wording, and the keys it accepts (empty: digits entry)."""

    full: tuple[Line | str, ...]
    short: tuple[Line | str, ...]
    choices: dict[str, str] = field(default_factory=dict)
    offered: tuple[int, ...] = ()

    @property
    def entry(self) -> bool:
        """True for free digit entry finished with #."""
        return not self.choices


Outcome = Go | Invalid | VoiceResponse


class CallFlow:
    """One webhook request of one call: ask, interpret the answer, move on."""

    def __init__(self, settings: Settings, session: Session, call: Call, state: State,
                 audio: Callable[[str, str], str | None], now: datetime | None = None) -> None:
        self.settings = settings
        self.session = session
        self.call = call
        self.state = state
        self.audio = audio
        self.now = now or utcnow()
        self.menu = settings.menu
        self.speaker = self._speaker(state.lang)
        # What a router step must say first when it answers with its own TwiML.
        self.preface: tuple[Line | str, ...] = ()
        self.later_key = next(
            key for key in ("9", "8", "7") if key not in (self.menu.repeat_key,
                                                          self.menu.operator_key)
        )

    # ---- building responses -------------------------------------------------------------

    def _speaker(self, lang: str) -> Speaker:
        return Speaker(prompts.catalog(lang), self.settings.tz, self.menu.pause_ms)

    def _voicing(self, utterance: Utterance) -> twiml.Voicing:
        voices = {code: prompts.catalog(code).voice for code in self.settings.languages.offered}
        audio = {}
        for item in utterance:
            if isinstance(item, Line) and item.key:
                lang = item.lang or self.state.lang
                url = self.audio(lang, item.key)
                if url:
                    audio[(lang, item.key)] = url
        return twiml.Voicing(voices=voices, lang=self.state.lang,
                             rate_percent=self.menu.speech_rate_percent, audio=audio)

    def url(self, step: str, state: State | None = None) -> str:
        """The absolute action URL of a step carrying the state."""
        state = state or self.state
        base = self.settings.secrets.public_base_url
        return f"{base}/voice/step/{step}?{urlencode(sorted(state.query().items()))}"

    def _utter(self, items: tuple[Line | str, ...] | list[Line | str]) -> Utterance:
        return self.speaker.say(*items)

    def _timeout(self) -> int:
        # Older callers need 8-10 s; the configured value is kept inside that range.
        return min(max(self.menu.timeout_seconds, 8), 10)

    def ask(self, step: str, preface: tuple[Line | str, ...] = (), attempt: int = 0,
            short: bool = False, warn: bool = False, keep: bool = False) -> VoiceResponse:
        """Put a question (or follow a router step) with an optional preface."""
        if step in ROUTERS:
            self.preface = preface
            outcome = ROUTERS[step](self)
            self.preface = ()
            return self.follow(outcome, preface)
        question = QUESTIONS[step](self)
        if isinstance(question, Go):
            return self.follow(question, preface)
        state = replace(self.state, step=step, attempt=attempt, nonce=secrets.token_hex(4))
        if not keep:
            state = replace(state, offered=question.offered)
        self.state = state
        lines = list(preface) + list(question.short if short else question.full)
        if not question.entry and not short:
            lines.append(self.speaker.line("repeat_hint", key=self.menu.repeat_key))
        if warn:
            lines.append("last_try_warning")
        if short:
            lines.append(self.speaker.line("operator_hint", key=self.menu.operator_key))
        utterance = self._utter(lines)
        spec = twiml.Question(
            action_url=self.url(step), utterance=utterance, hints=self._hints(question),
            timeout_seconds=self._timeout(), single_key=not question.entry,
        )
        return twiml.question(spec, self._voicing(utterance), self.menu.pause_ms)

    def _hints(self, question: Ask) -> tuple[str, ...]:
        catalog = self.speaker.catalog
        intents = {"operator", "repeat", *question.choices.values()}
        return tuple(word for intent in sorted(intents) for word in catalog.words(intent))

    def follow(self, outcome: Outcome, preface: tuple[Line | str, ...] = ()) -> VoiceResponse:
        """Turn a handler's outcome into TwiML."""
        if isinstance(outcome, VoiceResponse):
            return outcome
        if isinstance(outcome, Invalid):
            return self.error(outcome.cue)
        keep = {"lang", "quiet", "goal", "via_caller_id", "move"}
        base = {name: getattr(self.state, name) for name in keep}
        self.state = State(step=outcome.step, **{**base, **outcome.changes})
        return self.ask(outcome.step, tuple(preface) + tuple(outcome.preface))

    def say_then_end(self, *items: Line | str) -> VoiceResponse:
        """Say the last words and hang up (only once the caller has finished)."""
        utterance = self._utter([*self.preface, *items, "goodbye"])
        return twiml.goodbye(utterance, self._voicing(utterance), self.menu.pause_ms)

    def error(self, cue: str) -> VoiceResponse:
        """Count a miss: re-ask shorter with a cue, warn before the last try, then give up."""
        attempt = self.state.attempt + 1
        if attempt > self.menu.max_retries:
            target = "voicemail" if self.state.step in GIVE_UP_TO_VOICEMAIL else "person"
            calls.add_path(self.session, self.call, "gave_up", self.state.step)
            return self.follow(Go(target))
        warn = attempt == self.menu.max_retries and self.state.step not in GIVE_UP_TO_VOICEMAIL
        return self.ask(self.state.step, (cue,), attempt=attempt, short=True, warn=warn,
                        keep=True)

    # ---- entry points ------------------------------------------------------------------

    def incoming(self) -> VoiceResponse:
        """The greeting, then the language choice (or the menu with one language)."""
        calls.add_path(self.session, self.call, "incoming")
        key = self.menu.operator_key
        greeting = (
            self.speaker.line("greeting", city=self.city_name()),
            self.speaker.line("greeting_operator", key=key),
            "greeting_no_buttons",
        )
        self.state = replace(self.state, quiet=True)
        first = "language" if len(self.settings.languages.offered) > 1 else "menu"
        return self.ask(first, greeting)

    def answer(self, form: Mapping[str, str]) -> VoiceResponse:
        """Interpret the caller's answer to the current step's question."""
        step = self.state.step
        if step in WEBHOOKS:
            return self.follow(WEBHOOKS[step](self, form))
        if step not in QUESTIONS:
            return self.follow(Go("menu"))
        reply = read_reply(form)
        if reply.star_only:
            # A pulse phone switching to tones: ask again at once, no error counted.
            return self.ask(step, ("star_cue",), attempt=self.state.attempt, short=True,
                            keep=True)
        question = QUESTIONS[step](self)
        if isinstance(question, Go):
            return self.follow(question)
        if not reply.silent:
            self.state = replace(self.state, quiet=False)
        self._trace(step, reply, question)
        intent = intent_of(reply.speech, self.speaker.catalog,
                           {"operator", "repeat", *question.choices.values()})
        if reply.digits == self.menu.operator_key or intent == "operator":
            return self.follow(Go("person"))
        if reply.digits == self.menu.repeat_key or (intent == "repeat" and not reply.digits):
            return self.ask(step, attempt=self.state.attempt, keep=True)
        if reply.silent:
            return self._silence(step)
        if question.entry:
            return self.follow(ENTRIES[step](self, reply.digits))
        key = reply.digits if reply.digits in question.choices else None
        if key is None and step == "language":
            named = names_language(reply.speech, [prompts.catalog(code) for code in
                                                  self.settings.languages.offered])
            key = next((k for k, v in question.choices.items() if v == f"lang:{named}"), None)
        if key is None and intent:
            key = next((k for k, v in question.choices.items() if v == intent), None)
        if key is None:
            return self.error("wrong_key" if reply.digits else "not_heard")
        return self.follow(CHOICES[step](self, question.choices[key]))

    def _silence(self, step: str) -> VoiceResponse:
        if step == "language":
            return self.follow(Go("menu"))
        if step == "menu" and self.state.quiet:
            # Nothing heard since the greeting: a pulse phone, or someone who cannot press.
            calls.add_path(self.session, self.call, "silent_from_start")
            return self.follow(Go("person"))
        return self.error("not_heard")

    def _trace(self, step: str, reply: Reply, question: Ask) -> None:
        if reply.silent:
            value = "silence"
        elif question.entry:
            value = f"{len(reply.digits)} digits"  # never the digits: birth dates, numbers
        else:
            value = reply.digits or "speech"
        calls.add_path(self.session, self.call, step, value)

    # ---- helpers over the database ----------------------------------------------------

    def city_name(self) -> str:
        """The city's name in the caller's language."""
        city = self.settings.city
        return city.name if self.state.lang == "ja" else city.name_en

    def place(self, slot: Slot) -> str:
        """A site's name in the caller's language."""
        return slot.site.name if self.state.lang == "ja" else slot.site.name_en

    def resident(self) -> Resident | None:
        """The caller, once identified on this call."""
        if self.call.resident_id is None:
            return None
        return self.session.get(Resident, self.call.resident_id)

    def kept_booking(self) -> Booking | None:
        """The booking this call is working on."""
        booking_id = calls.recall(self.session, self.call, "booking_id")
        return self.session.get(Booking, booking_id) if isinstance(booking_id, int) else None

    def code_lines(self, key: str, again_key: str, code: str) -> tuple[Line, Line]:
        """A reference code said twice, digit by digit."""
        digits = self.speaker.digits(code)
        return self.speaker.line(key, code=digits), self.speaker.line(again_key, code=digits)

    def hours_lines(self) -> list[Line]:
        """The opening hours as sentences."""
        weekdays = self.speaker.catalog.fmt("weekdays")
        lines = []
        for span in hours.weekly_spans(self.settings):
            days = weekdays[span.first_weekday] if span.first_weekday == span.last_weekday else (
                self.speaker.catalog.text("days_range", first=weekdays[span.first_weekday],
                                          last=weekdays[span.last_weekday])
            )
            lines.append(self.speaker.line(
                "hours_span", days=days,
                opens=self.speaker.time(span.opens.hour, span.opens.minute),
                closes=self.speaker.time(span.closes.hour, span.closes.minute),
            ))
        if self.settings.hours.closed_on_public_holidays:
            lines.append(self.speaker.line("holidays_closed"))
        return lines


# ---- questions ------------------------------------------------------------------------


def _options(flow: CallFlow, pairs: list[tuple[str, str, str]]) -> tuple[tuple[Line, ...], dict]:
    """Option sentences (option before key) and their choices from (prompt key, key, intent)."""
    lines = tuple(flow.speaker.line(prompt, key=key) for prompt, key, _ in pairs)
    return lines, {key: intent for _, key, intent in pairs}


def _yes_no(flow: CallFlow, prompt: str = "confirm_yes_no") -> Line:
    return flow.speaker.line(prompt, yes=YES, no=NO)


def q_language(flow: CallFlow) -> Ask:
    lines, choices = [], {}
    for index, code in enumerate(flow.settings.languages.offered, start=1):
        text = prompts.catalog(code).text("language_option", key=index)
        lines.append(Line(text, "language_option", lang=code))
        choices[str(index)] = f"lang:{code}"
    return Ask(tuple(lines), tuple(lines), choices)


def q_menu(flow: CallFlow) -> Ask:
    pairs = [(f"option_{name}", str(index), name)
             for index, name in enumerate(flow.menu.options, start=1)]
    lines, choices = _options(flow, pairs)
    return Ask(("menu_intro", *lines), lines, choices)


def q_check(flow: CallFlow) -> Ask:
    lines, choices = _options(flow, [("option_code", "1", "code"),
                                     ("option_identity", "2", "identity")])
    return Ask(lines, lines, choices)


def q_code(flow: CallFlow) -> Ask:
    return Ask(("code_ask",), ("code_ask",))


def q_resident_no(flow: CallFlow) -> Ask:
    return Ask(("resident_no_ask",), ("resident_no_ask",))


def q_birth(flow: CallFlow) -> Ask:
    return Ask(("birth_ask",), ("birth_ask_short",))


def q_birth_ok(flow: CallFlow) -> Ask | Go:
    kept = calls.recall(flow.session, flow.call, "birth")
    if not isinstance(kept, dict):
        # A retried confirmation finds the birth date already used and forgotten.
        if flow.call.resident_id is not None:
            return Go("check_identified" if flow.state.goal == "check" else "book")
        return Go("birth")
    spoken = flow.speaker.birth_date(date.fromisoformat(kept["date"]), kept.get("era"),
                                     kept.get("era_year"))
    lines = (flow.speaker.line("birth_readback", date=spoken), _yes_no(flow))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def _campaign_of_move(flow: CallFlow) -> int | None:
    if not flow.state.move:
        return None
    kept = flow.kept_booking()
    return kept.campaign_id if kept else None


def q_slots(flow: CallFlow) -> Ask | Go:
    state = flow.state
    if state.offered:
        slots = [s for s in (flow.session.get(Slot, i) for i in state.offered) if s is not None]
    else:
        after_slot = flow.session.get(Slot, state.after) if state.after else None
        after = after_slot.starts_at if after_slot else flow.now
        slots = booking.open_slots(
            flow.session, campaign_id=_campaign_of_move(flow), channel="ivr", after=after,
            limit=flow.settings.booking.slots_offered,
        )
        if not slots and after_slot is not None:
            return Go("slots", ("slots_no_more",))
    if not slots:
        calls.set_outcome(flow.session, flow.call, "self_served")
        return Go("after_task", ("slots_none",))
    lines, choices = [], {}
    for index, slot in enumerate(slots, start=1):
        lines.append(flow.speaker.line("slot_option", when=flow.speaker.when(slot.starts_at),
                                       place=flow.place(slot), key=index))
        choices[str(index)] = f"slot:{slot.id}"
    lines.append(flow.speaker.line("slots_later", key=flow.later_key))
    choices[flow.later_key] = "later"
    return Ask(("slots_intro", *lines), tuple(lines), choices, offered=tuple(s.id for s in slots))


def _booking_lines(flow: CallFlow, key: str, slot: Slot) -> Line:
    return flow.speaker.line(key, when=flow.speaker.when(slot.starts_at), place=flow.place(slot))


def q_book_ok(flow: CallFlow) -> Ask | Go:
    kept = flow.kept_booking()
    if kept is None or kept.status not in ACTIVE_BOOKING_STATUSES:
        return Go("slots", ("hold_expired",))
    lines = (_booking_lines(flow, "book_readback", kept.slot), _yes_no(flow, "book_confirm"))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def q_existing(flow: CallFlow) -> Ask | Go:
    kept = flow.kept_booking()
    if kept is None:
        return Go("menu")
    options, choices = _options(flow, [("option_change", "1", "change"),
                                       ("option_cancel", "2", "cancel"),
                                       ("option_keep", "3", "keep")])
    heading = (_booking_lines(flow, "existing_booking", kept.slot),
               flow.speaker.line("reference_code", code=flow.speaker.digits(kept.reference)))
    return Ask((*heading, *options), options, choices)


def q_move_ok(flow: CallFlow) -> Ask | Go:
    slot = flow.session.get(Slot, flow.state.item) if flow.state.item else None
    if slot is None or flow.kept_booking() is None:
        return Go("menu")
    lines = (_booking_lines(flow, "move_readback", slot), _yes_no(flow, "book_confirm"))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def q_cancel_ok(flow: CallFlow) -> Ask | Go:
    kept = flow.kept_booking()
    if kept is None:
        return Go("menu")
    lines = (_booking_lines(flow, "cancel_readback", kept.slot), _yes_no(flow, "cancel_confirm"))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


def _faq_titles(flow: CallFlow) -> list[tuple[int, str, str]]:
    """(id, title, answer) of active FAQ entries in the caller's language (or the default)."""
    entries = flow.session.scalars(
        select(FaqEntry).where(FaqEntry.active.is_(True)).order_by(FaqEntry.position, FaqEntry.id)
    )
    found = []
    for entry in entries:
        texts = {text.language: text for text in entry.texts}
        text = texts.get(flow.state.lang) or texts.get(flow.settings.languages.default)
        if text is not None:
            found.append((entry.id, text.title, text.answer))
    return found


def q_faq(flow: CallFlow) -> Ask | Go:
    entries = _faq_titles(flow)
    if not entries:
        return Go("after_task", ("faq_none",))
    if flow.state.offered:
        page = [e for e in entries if e[0] in flow.state.offered]
        more = bool(entries) and entries[-1][0] not in flow.state.offered
    else:
        start = flow.state.after or 0
        if start >= len(entries):
            start = 0
        rest = entries[start:]
        page = rest if len(rest) <= FAQ_PAGE + 1 else rest[:FAQ_PAGE]
        more = len(rest) > len(page)
    lines, choices = [], {}
    for index, (entry_id, title, _) in enumerate(page, start=1):
        lines.append(flow.speaker.line("faq_option", title=title, key=index))
        choices[str(index)] = f"faq:{entry_id}"
    if more:
        lines.append(flow.speaker.line("faq_more", key=flow.later_key))
        choices[flow.later_key] = "later"
    return Ask(("faq_intro", *lines), tuple(lines), choices, offered=tuple(e[0] for e in page))


def q_faq_answer(flow: CallFlow) -> Ask | Go:
    answer = next((e[2] for e in _faq_titles(flow) if e[0] == flow.state.item), None)
    if answer is None:
        return Go("faq")
    options, choices = _options(flow, [("faq_more", "1", "faq"), ("option_menu", "2", "menu"),
                                       ("option_end", "3", "goodbye")])
    return Ask((Line(answer), *options), options, choices)


def q_after_task(flow: CallFlow) -> Ask:
    lines, choices = _options(flow, [("after_task", "1", "menu"), ("option_end", "2", "goodbye")])
    return Ask(lines, lines, choices)


def q_callback_offer(flow: CallFlow) -> Ask:
    lines, choices = _options(flow, [("option_callback", "1", "callback"),
                                     ("option_voicemail", "2", "voicemail")])
    return Ask(lines, lines, choices)


def q_cb_number(flow: CallFlow) -> Ask:
    return Ask(("callback_number_ask",), ("callback_number_ask",))


def q_cb_number_ok(flow: CallFlow) -> Ask | Go:
    number = calls.recall(flow.session, flow.call, "callback_number")
    if not isinstance(number, str):
        return Go("cb_number")
    lines = (flow.speaker.line("callback_number_readback",
                               number=flow.speaker.phone_number(number)),
             _yes_no(flow, "callback_number_confirm"))
    return Ask(lines, lines, {YES: "yes", NO: "no"})


# ---- answers to choice questions ----------------------------------------------------------


def c_language(flow: CallFlow, value: str) -> Outcome:
    lang = value.removeprefix("lang:")
    flow.call.language = lang
    flow.session.commit()
    flow.state = replace(flow.state, lang=lang)
    flow.speaker = flow._speaker(lang)
    return Go("menu")


def c_menu(flow: CallFlow, value: str) -> Outcome:
    return {
        "book": Go("identify", changes={"goal": "book"}),
        "check": Go("check"),
        "faq": Go("faq"),
    }.get(value, Go("person"))


def c_check(flow: CallFlow, value: str) -> Outcome:
    return Go("code") if value == "code" else Go("identify", changes={"goal": "check"})


def c_birth_ok(flow: CallFlow, value: str) -> Outcome:
    if value == "no":
        return Go("birth")
    kept = calls.recall(flow.session, flow.call, "birth")
    birth = date.fromisoformat(kept["date"])
    if flow.state.via_caller_id and flow.call.from_e164:
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
        return Go("resident_no", ("identify_failed",), {"via_caller_id": False})
    flow.call.resident_id = match.id
    flow.session.commit()
    calls.add_path(flow.session, flow.call, "identified")
    return Go("check_identified" if flow.state.goal == "check" else "book", ("identify_ok",))


def c_slots(flow: CallFlow, value: str) -> Outcome:
    if value == "later":
        return Go("slots", changes={"after": flow.state.offered[-1]})
    slot_id = int(value.removeprefix("slot:"))
    if flow.state.move:
        return Go("move_ok", changes={"item": slot_id})
    return _hold(flow, slot_id)


def _hold(flow: CallFlow, slot_id: int) -> Outcome:
    call = flow.call
    if call.resident_id is None:
        return Go("identify", changes={"goal": "book"})

    def work() -> dict:
        held = booking.hold(
            flow.session, slot_id=slot_id, resident_id=call.resident_id, channel="ivr",
            hold_minutes=flow.settings.booking.hold_minutes, call_sid=call.call_sid,
            idempotency_key=f"ivr:{call.call_sid}:{flow.state.nonce}"[:100],
        )
        return {"booking_id": held.id}

    try:
        result = calls.once(flow.session, call, f"hold:{flow.state.nonce}", work)
    except booking.SlotFull:
        calls.add_path(flow.session, call, "slot_full")
        return Go("slots", ("slot_full",))
    except booking.AlreadyBooked as exc:
        if exc.existing is None:
            return Go("book")
        calls.remember(flow.session, call, "booking_id", exc.existing.id)
        return Go("existing")
    except booking.BookingError:
        return Go("person", ("not_eligible",))
    calls.remember(flow.session, call, "booking_id", result["booking_id"])
    return Go("book_ok")


def _sms_number(flow: CallFlow, resident: Resident | None) -> str | None:
    if flow.call.from_e164 and phone.is_mobile(flow.call.from_e164):
        return flow.call.from_e164
    if resident is None:
        return None
    mobile = flow.session.scalar(
        select(ResidentPhone.e164).where(ResidentPhone.resident_id == resident.id,
                                         ResidentPhone.is_mobile.is_(True))
    )
    return mobile


def _send_confirmation(flow: CallFlow, kept: Booking) -> bool:
    """Text the booking to a mobile number; a failed text never fails the booking."""
    from madoguchi.telephony import get_telephony

    number = _sms_number(flow, flow.resident())
    if number is None:
        return False
    body = flow.speaker.catalog.text(
        "sms_booked", city=flow.city_name(), when=flow.speaker.when(kept.slot.starts_at),
        place=flow.place(kept.slot), code=kept.reference,
    )
    try:
        get_telephony().send_sms(number, body)
    except Exception:
        log.exception("booking SMS to %s failed", phone.mask(number))
        return False
    return True


def _booked_lines(flow: CallFlow, first: str, reference: str, sms: bool) -> tuple:
    lines = (first, *flow.code_lines("reference_code", "reference_again", reference))
    return (*lines, "sms_sent") if sms else lines


def c_book_ok(flow: CallFlow, value: str) -> Outcome:
    kept = flow.kept_booking()
    if kept is None:
        return Go("menu")
    if value == "no":
        calls.once(flow.session, flow.call, f"release:{flow.state.nonce}", lambda: {
            "status": booking.cancel(flow.session, kept.reference,
                                     reason="declined on the phone line").status})
        return Go("slots")

    def work() -> dict:
        confirmed = booking.confirm(flow.session, kept.reference)
        return {"reference": confirmed.reference, "sms": _send_confirmation(flow, confirmed)}

    try:
        result = calls.once(flow.session, flow.call, f"confirm:{flow.state.nonce}", work)
    except booking.HoldExpired:
        return Go("slots", ("hold_expired",))
    calls.set_outcome(flow.session, flow.call, "booked")
    calls.add_path(flow.session, flow.call, "booked")
    return Go("after_task", _booked_lines(flow, "booked", result["reference"], result["sms"]))


def c_existing(flow: CallFlow, value: str) -> Outcome:
    if value == "change":
        return Go("slots", changes={"move": True})
    if value == "cancel":
        return Go("cancel_ok")
    calls.set_outcome(flow.session, flow.call, "self_served")
    return Go("after_task")


def c_move_ok(flow: CallFlow, value: str) -> Outcome:
    kept = flow.kept_booking()
    if value == "no" or kept is None or flow.state.item is None:
        return Go("slots", changes={"move": True})
    slot_id = flow.state.item

    def work() -> dict:
        moved = booking.reschedule(flow.session, kept.reference, slot_id)
        return {"reference": moved.reference, "slot_id": moved.slot_id}

    try:
        result = calls.once(flow.session, flow.call, f"move:{flow.state.nonce}", work)
    except booking.SlotFull:
        return Go("slots", ("slot_full",), {"move": True})
    except booking.BookingError:
        return Go("person", ("not_eligible",))
    calls.set_outcome(flow.session, flow.call, "booked")
    calls.add_path(flow.session, flow.call, "moved")
    return Go("after_task", _booked_lines(flow, "moved", result["reference"], False),
              {"move": False})


def c_cancel_ok(flow: CallFlow, value: str) -> Outcome:
    kept = flow.kept_booking()
    if value == "no" or kept is None:
        return Go("after_task", ("not_cancelled",))
    try:
        calls.once(flow.session, flow.call, f"cancel:{flow.state.nonce}", lambda: {
            "status": booking.cancel(flow.session, kept.reference,
                                     reason="cancelled by the resident on the phone line").status})
    except booking.BookingError:
        return Go("person", ("not_eligible",))
    calls.set_outcome(flow.session, flow.call, "self_served")
    calls.add_path(flow.session, flow.call, "cancelled")
    return Go("after_task", ("cancelled",), {"move": False})


def c_faq(flow: CallFlow, value: str) -> Outcome:
    if value == "later":
        entries = [e[0] for e in _faq_titles(flow)]
        last = flow.state.offered[-1] if flow.state.offered else None
        start = entries.index(last) + 1 if last in entries else 0
        return Go("faq", changes={"after": start})
    calls.set_outcome(flow.session, flow.call, "self_served")
    return Go("faq_answer", changes={"item": int(value.removeprefix("faq:"))})


def c_faq_answer(flow: CallFlow, value: str) -> Outcome:
    return c_after_task(flow, value)


def c_after_task(flow: CallFlow, value: str) -> Outcome:
    if value == "goodbye":
        calls.set_outcome(flow.session, flow.call, "self_served")
        calls.add_path(flow.session, flow.call, "goodbye")
        return flow.say_then_end()
    return Go(value)


def c_callback_offer(flow: CallFlow, value: str) -> Outcome:
    if value == "voicemail":
        return Go("voicemail")
    if flow.call.from_e164:
        calls.remember(flow.session, flow.call, "callback_number", flow.call.from_e164)
        return Go("cb_number_ok")
    return Go("cb_number")


def c_cb_number_ok(flow: CallFlow, value: str) -> Outcome:
    if value == "no":
        calls.forget(flow.session, flow.call, "callback_number")
        return Go("cb_number")
    number = calls.recall(flow.session, flow.call, "callback_number")
    opening = hours.next_opening(flow.settings, flow.now)
    later = opening if opening and opening > flow.now else None

    def work() -> dict:
        request = request_callback(
            flow.session, e164=number, call_id=flow.call.id, resident_id=flow.call.resident_id,
            language=flow.state.lang, reason="operator", window_start=later,
        )
        return {"callback_request_id": request.id}

    calls.once(flow.session, flow.call, f"callback:{flow.state.nonce}", work)
    calls.set_outcome(flow.session, flow.call, "callback")
    calls.add_path(flow.session, flow.call, "callback_requested")
    if later is None:
        return flow.say_then_end(flow.speaker.line("callback_taken_soon", city=flow.city_name()))
    return flow.say_then_end(flow.speaker.line(
        "callback_taken_later", city=flow.city_name(), when=flow.speaker.when(later)))


# ---- answers to digit entries ---------------------------------------------------------------


def e_code(flow: CallFlow, digits: str) -> Outcome:
    kind = codes.kind_of(digits)
    if kind == "booking":
        found = booking.find_booking(flow.session, digits)
        if found is None:
            return Invalid("code_not_found")
        calls.remember(flow.session, flow.call, "booking_id", found.id)
        if found.status not in ACTIVE_BOOKING_STATUSES:
            calls.set_outcome(flow.session, flow.call, "self_served")
            return Go("after_task", ("already_cancelled",))
        return Go("existing")
    if kind == "inquiry":
        inquiry = inquiries.find(flow.session, digits)
        if inquiry is None:
            return Invalid("code_not_found")
        status = flow.speaker.catalog.text(f"status_{inquiry.status}")
        lines: list[Line | str] = [flow.speaker.line(
            "inquiry_status", code=flow.speaker.digits(digits), status=status)]
        update = inquiries.last_public_update(inquiry)
        if update is not None:
            lines.append(flow.speaker.line("inquiry_update", text=update.text))
        calls.set_outcome(flow.session, flow.call, "self_served")
        calls.add_path(flow.session, flow.call, "inquiry_status")
        return Go("after_task", tuple(lines))
    return Invalid("code_not_found")


def e_resident_no(flow: CallFlow, digits: str) -> Outcome:
    if not 4 <= len(digits) <= 20:
        return Invalid("resident_no_invalid")
    calls.remember(flow.session, flow.call, "resident_no", digits)
    return Go("birth")


def e_birth(flow: CallFlow, digits: str) -> Outcome:
    keyed = parse_birth_date(digits, flow.now.astimezone(flow.settings.tz).date())
    if keyed is None:
        return Invalid("birth_invalid")
    calls.remember(flow.session, flow.call, "birth", {
        "date": keyed.value.isoformat(), "era": keyed.era, "era_year": keyed.era_year})
    return Go("birth_ok")


def e_cb_number(flow: CallFlow, digits: str) -> Outcome:
    number = phone.try_normalize(digits, flow.settings.city.region)
    if number is None:
        return Invalid("callback_number_invalid")
    calls.remember(flow.session, flow.call, "callback_number", number)
    return Go("cb_number_ok")


# ---- routers: steps that only decide where to go -------------------------------------------


def r_identify(flow: CallFlow) -> Outcome:
    goal = flow.state.goal or "book"
    if flow.call.resident_id is not None:
        return Go("check_identified" if goal == "check" else "book")
    if flow.call.from_e164 and residents.by_phone(flow.session, flow.call.from_e164):
        return Go("birth", ("identify_callerid",), {"via_caller_id": True})
    return Go("resident_no", changes={"via_caller_id": False})


def _active_booking(flow: CallFlow) -> Booking | None:
    return flow.session.scalar(
        select(Booking)
        .join(Campaign, Campaign.id == Booking.campaign_id)
        .where(Booking.resident_id == flow.call.resident_id, Campaign.active.is_(True),
               Booking.status.in_(ACTIVE_BOOKING_STATUSES))
        .order_by(Booking.id)
    )


def r_book(flow: CallFlow) -> Outcome:
    if flow.call.resident_id is None:
        return Go("identify", changes={"goal": "book"})
    existing = _active_booking(flow)
    if existing is not None:
        calls.remember(flow.session, flow.call, "booking_id", existing.id)
        return Go("existing")
    return Go("slots", changes={"move": False})


def r_check_identified(flow: CallFlow) -> Outcome:
    existing = _active_booking(flow) if flow.call.resident_id is not None else None
    if existing is None:
        calls.set_outcome(flow.session, flow.call, "self_served")
        return Go("after_task", ("no_booking",))
    calls.remember(flow.session, flow.call, "booking_id", existing.id)
    return Go("existing")


def r_person(flow: CallFlow) -> Outcome:
    calls.add_path(flow.session, flow.call, "person")
    is_open = hours.is_open(flow.settings, flow.now)
    number = phone.try_normalize(flow.settings.queue.fallback_number, flow.settings.city.region)
    if is_open and number:
        calls.set_outcome(flow.session, flow.call, "queued")
        utterance = flow._utter([*flow.preface, "connecting"])
        return twiml.connect(utterance, flow._voicing(utterance), number,
                             flow.url("dial_done"), DIAL_RING_SECONDS, flow.menu.pause_ms)
    preface = ("cannot_connect",) if is_open else ("closed", *flow.hours_lines())
    return Go("callback_offer", preface)


def r_voicemail(flow: CallFlow) -> Outcome:
    calls.add_path(flow.session, flow.call, "voicemail")
    flow.state = replace(flow.state, step="voicemail_done", attempt=0,
                         nonce=secrets.token_hex(4))
    utterance = flow._utter([*flow.preface, "voicemail_intro"])
    return twiml.record_message(utterance, flow._voicing(utterance), flow.url("voicemail_done"),
                                VOICEMAIL_MAX_SECONDS, flow.menu.pause_ms)


# ---- webhooks -----------------------------------------------------------------------------


def w_dial_done(flow: CallFlow, form: Mapping[str, str]) -> Outcome:
    if form.get("DialCallStatus") == "completed":
        calls.add_path(flow.session, flow.call, "operator_done")
        return flow.say_then_end()
    calls.add_path(flow.session, flow.call, "dial_failed",
                   printable(form.get("DialCallStatus"), 20))
    return Go("callback_offer", ("dial_failed",))


def w_voicemail_done(flow: CallFlow, form: Mapping[str, str]) -> Outcome:
    recording = printable(form.get("RecordingUrl"), 1000)
    if not recording.startswith(("https://", "http://")):
        return Go("callback_offer", ("voicemail_empty",))
    seconds = printable(form.get("RecordingDuration"), 6)
    call = flow.call

    def work() -> dict:
        inquiry = inquiries.create(
            flow.session, category="voicemail", subject=flow.speaker.catalog.text(
                "voicemail_subject"), channel="ivr", resident_id=call.resident_id,
            contact_e164=call.from_e164, call_sid=call.call_sid,
            note=f"voicemail left on the phone line ({seconds[:6]} s)",
        )
        inquiry.events.append(InquiryEvent(kind="recording", text=recording[:1000], public=False))
        flow.session.commit()
        return {"inquiry_id": inquiry.id, "reference": inquiry.reference}

    result = calls.once(flow.session, call, f"voicemail:{flow.state.nonce}", work)
    calls.set_outcome(flow.session, call, "voicemail")
    calls.add_path(flow.session, call, "voicemail_recorded")
    return flow.say_then_end("voicemail_taken", *flow.code_lines(
        "voicemail_reference", "voicemail_reference_again", result["reference"]))


QUESTIONS: dict[str, Callable[[CallFlow], Ask | Go]] = {
    "language": q_language, "menu": q_menu, "check": q_check, "code": q_code,
    "resident_no": q_resident_no, "birth": q_birth, "birth_ok": q_birth_ok, "slots": q_slots,
    "book_ok": q_book_ok, "existing": q_existing, "move_ok": q_move_ok,
    "cancel_ok": q_cancel_ok, "faq": q_faq, "faq_answer": q_faq_answer,
    "after_task": q_after_task, "callback_offer": q_callback_offer, "cb_number": q_cb_number,
    "cb_number_ok": q_cb_number_ok,
}
CHOICES: dict[str, Callable[[CallFlow, str], Outcome]] = {
    "language": c_language, "menu": c_menu, "check": c_check, "birth_ok": c_birth_ok,
    "slots": c_slots, "book_ok": c_book_ok, "existing": c_existing, "move_ok": c_move_ok,
    "cancel_ok": c_cancel_ok, "faq": c_faq, "faq_answer": c_faq_answer,
    "after_task": c_after_task, "callback_offer": c_callback_offer,
    "cb_number_ok": c_cb_number_ok,
}
ENTRIES: dict[str, Callable[[CallFlow, str], Outcome]] = {
    "code": e_code, "resident_no": e_resident_no, "birth": e_birth, "cb_number": e_cb_number,
}
ROUTERS: dict[str, Callable[[CallFlow], Outcome]] = {
    "identify": r_identify, "book": r_book, "check_identified": r_check_identified,
    "person": r_person, "voicemail": r_voicemail,
}
WEBHOOKS: dict[str, Callable[[CallFlow, Mapping[str, str]], Outcome]] = {
    "dial_done": w_dial_done, "voicemail_done": w_voicemail_done,
}
STEPS = sorted({*QUESTIONS, *WEBHOOKS})


def audio_finder(settings: Settings, app: Flask | None = None) -> Callable[[str, str], str | None]:
    """Where the recorded audio of a prompt key is, if the city recorded it."""
    directory = Path(settings.prompts.audio_dir) if settings.prompts.audio_dir else None
    if directory is not None and not directory.is_absolute():
        directory = settings.config_path.parent / directory
    base_url = settings.prompts.audio_base_url.rstrip("/")

    def find(lang: str, key: str) -> str | None:
        if directory is None or not (directory / lang / f"{key}.mp3").is_file():
            return None
        if base_url:
            return f"{base_url}/{lang}/{key}.mp3"
        return f"{settings.secrets.public_base_url}/voice/audio/{lang}/{key}.mp3"

    return find
