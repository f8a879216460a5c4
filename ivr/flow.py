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
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

import prompts
from ivr.birthdate import keyed_form
from ivr.state import Ask, Go, Invalid, Outcome, State, later_key, new_nonce
from ivr.steps import CHOICES, ENTRIES, QUESTIONS, ROUTERS, WEBHOOKS
from madoguchi import calls, hours, phone, residents
from madoguchi.models import (
    Booking,
    Call,
    Resident,
    Slot,
    utcnow,
)
from madoguchi.settings import Settings
from madoguchi.voice import twiml
from madoguchi.voice.audio import audio_finder
from madoguchi.voice.inputs import Reply, intent_of, names_language, read_reply
from madoguchi.voice.speech import Line, Speaker, Utterance
from madoguchi.voice.spoken import date_from_speech, number_from_speech

log = logging.getLogger(__name__)

# The caller's own words at menus, kept (sealed) for the operator who calls them back.
SAID_MEMO = "said"
SAID_KEPT = 5
SAID_CHARACTERS = 200

# Steps whose silence, after the last re-prompt, leads to the callback on the caller's own number
# (or, for a withheld number, to the one recording and then the other ways to reach the city):
# the caller is already on the way to a callback, so sending them "to a person" would loop.
GIVE_UP_TO_CALLBACK = {"callback_offer", "cb_number", "cb_number_ok"}
# Questions of fixed prompts only (no caller's data in them): their TwiML is rendered once per
# wording, language, attempt and audio, and reused with each call's action URL.
FIXED_QUESTIONS = {"language", "menu", "resident_no"}
# Questions where pressing nothing is an answer, as the question itself says.
SILENCE_MEANS = {"cb_window": "soon"}


class CallFlow:
    """One webhook request of one call: ask, interpret the answer, move on."""

    def __init__(self, settings: Settings, session: Session | Callable[[], Session],
                 state: State, audio: Callable[[str, str], str | None], *, call_sid: str,
                 from_raw: str | None, to_number: str, now: datetime | None = None) -> None:
        self.settings = settings
        # A session, or what opens one when a step first needs the database: most menu
        # answers never do.
        self._session = session
        self.call_sid = call_sid
        self.from_raw = from_raw
        self.to_number = to_number
        self._call: Call | None = None
        self.state = state
        self.audio = audio
        self.now = now or utcnow()
        self.menu = settings.menu
        self.speaker = self.speaker_for(state.lang)
        # What a router step must say first when it answers with its own TwiML.
        self.preface: tuple[Line | str, ...] = ()
        self.later_key = later_key(self.menu)
        # True while handling an entry the caller said rather than keyed (read it back).
        self.heard_spoken = False

    # ---- the call's record -------------------------------------------------------------

    @property
    def session(self) -> Session:
        """The database session, opened on first use."""
        if not isinstance(self._session, Session):
            self._session = self._session()
        return self._session

    @property
    def call(self) -> Call:
        """The call's row, read (or recorded, once per CallSid) when a step first needs it."""
        if self._call is None:
            self._call = calls.start_call(
                self.session, self.call_sid, from_raw=self.from_raw, to_number=self.to_number,
                region=self.settings.city.region, language=self.state.lang)
        return self._call

    def caller_number(self) -> str | None:
        """The caller's number in E.164 as the call's row keeps it (None when withheld)."""
        if self._call is not None:
            return self._call.from_e164
        return phone.try_normalize(self.from_raw, self.settings.city.region)

    def resident_id(self) -> int | None:
        """The resident identified on this call, if any (without reading the whole row)."""
        if self._call is not None:
            return self._call.resident_id
        return calls.resident_of(self.session, self.call_sid)

    def caller_on_record(self) -> tuple[int | None, bool]:
        """Who this call identified, and whether the caller's number is registered."""
        if self._call is None and self.state.registered is not None:
            # Learnt when the call was recorded, and nobody identified since (see identify).
            return None, self.state.registered
        number = self.caller_number()
        if self._call is None:
            return residents.caller_on_record(self.session, self.call_sid, number)
        if self._call.resident_id is not None:
            return self._call.resident_id, False
        return None, number is not None and residents.phone_registered(self.session, number)

    def identify(self, resident_id: int) -> None:
        """The caller is this resident: kept on the call's row (commits)."""
        self.call.resident_id = resident_id
        self.session.commit()
        # From here the row says who called; the greeting's knowledge is out of date.
        self.state = replace(self.state, registered=None)

    def move(self, node: str, value: str | None = None) -> None:
        """Note a move through the menu on the call's route (buffered, no database write)."""
        calls.add_move(self.call_sid, node, value, call=lambda: self.call)

    # ---- building responses -------------------------------------------------------------

    def speaker_for(self, lang: str) -> Speaker:
        """Sentences in a language at the configured pace."""
        return Speaker(prompts.catalog(lang), self.settings.tz, self.menu.pause_ms)

    def voicing(self, utterance: Utterance) -> twiml.Voicing:
        """Voices, pace and the recorded audio of the prompt keys in an utterance."""
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
        return f"{base}/voice/step/{step}?{query_string(state.query())}"

    def utter(self, items: tuple[Line | str, ...] | list[Line | str]) -> Utterance:
        """Prompt keys and lines in the caller's language, with pauses between sentences."""
        return self.speaker.say(*items)

    def _timeout(self, attempt: int) -> int:
        # Older callers need 8-10 s: the configured value is kept inside that range and each
        # re-prompt waits a second longer (warn and extend before giving up).
        return min(max(self.menu.timeout_seconds, 8) + attempt, 10)

    def ask(self, step: str, preface: tuple[Line | str, ...] = (), attempt: int = 0,
            short: bool = False, warn: str | None = None, keep: bool = False) -> VoiceResponse:
        """Put a question (or follow a router step) with an optional preface."""
        if step in ROUTERS:
            self.preface = preface
            outcome = ROUTERS[step](self)
            self.preface = ()
            return self.follow(outcome, preface)
        question = QUESTIONS[step](self)
        if isinstance(question, Go):
            return self.follow(question, preface)
        state = replace(self.state, step=step, attempt=attempt, nonce=new_nonce())
        if not keep:
            state = replace(state, offered=question.offered)
        self.state = state
        lines = list(preface) + list(question.short if short else question.full)
        if not question.entry and not short:
            lines.extend(self._repeat_hints(step))
        if warn:
            lines.append(warn)
        if short:
            lines.append(self.speaker.line("operator_hint", key=self.menu.operator_key))
        utterance = self.utter(lines)
        spec = twiml.Question(
            action_url=self.url(step), utterance=utterance, hints=self._hints(question),
            timeout_seconds=self._timeout(attempt), single_key=not question.entry,
        )
        build = twiml.reused_question if step in FIXED_QUESTIONS else twiml.question
        return build(spec, self.voicing(utterance), self.menu.pause_ms)

    def _repeat_hints(self, step: str) -> list[Line]:
        """"9 to hear this again"; on the language question in every language offered, as the
        caller has not chosen theirs yet."""
        if step != "language":
            return [self.speaker.line("repeat_hint", key=self.menu.repeat_key)]
        return [Line(prompts.catalog(code).text("repeat_hint", key=self.menu.repeat_key),
                     "repeat_hint", lang=code) for code in self.settings.languages.offered]

    def _hints(self, question: Ask) -> tuple[str, ...]:
        catalog = self.speaker.catalog
        intents = {"operator", "repeat", *question.choices.values()}
        words = [word for intent in sorted(intents) for word in catalog.words(intent)]
        for intent in sorted(intents):
            if intent.startswith("lang:"):
                words.extend(prompts.catalog(intent.removeprefix("lang:")).words("self"))
        return tuple(words)

    def follow(self, outcome: Outcome, preface: tuple[Line | str, ...] = ()) -> VoiceResponse:
        """Turn a handler's outcome into TwiML."""
        if isinstance(outcome, VoiceResponse):
            return outcome
        if isinstance(outcome, Invalid):
            return self.error(outcome.cue)
        keep = {"lang", "quiet", "goal", "via_caller_id", "move", "registered"}
        base = {name: getattr(self.state, name) for name in keep}
        self.state = State(step=outcome.step, **{**base, **outcome.changes})
        return self.ask(outcome.step, tuple(preface) + tuple(outcome.preface))

    def say_then_end(self, *items: Line | str) -> VoiceResponse:
        """Say the last words and hang up (only once the caller has finished)."""
        utterance = self.utter([*self.preface, *items, "goodbye"])
        return twiml.goodbye(utterance, self.voicing(utterance), self.menu.pause_ms)

    def error(self, cue: str) -> VoiceResponse:
        """Count a miss: re-ask shorter with a cue, warn before the last try, then give up."""
        attempt = self.state.attempt + 1
        step = self.state.step
        retries = self.menu.max_retries
        if step in GIVE_UP_TO_CALLBACK and self.state.quiet:
            # Silent since the greeting: one more try is enough before the line acts for them.
            retries = min(retries, 1)
        if attempt > retries and step in SILENCE_MEANS:
            return self.follow(CHOICES[step](self, SILENCE_MEANS[step]))
        if attempt > retries:
            self.move("gave_up", step)
            return self.follow(Go("unanswered" if step in GIVE_UP_TO_CALLBACK else "person"))
        warning = None
        if attempt == retries:
            warning = self.give_up_warning() if step in GIVE_UP_TO_CALLBACK else "last_try_warning"
        return self.ask(step, (cue,), attempt=attempt, short=True, warn=warning, keep=True)

    def give_up_warning(self) -> str | None:
        """What the line will do if the caller still gives no answer on the way to a callback."""
        if self.caller_number():
            return "last_try_callback"
        if calls.recall(self.session, self.call, "recording_offered"):
            return None
        return "last_try_recording"

    # ---- entry points ------------------------------------------------------------------

    def incoming(self) -> VoiceResponse:
        """The greeting, then the language choice (or the menu with one language)."""
        recorded = calls.record_call(
            self.session, self.call_sid, from_raw=self.from_raw, to_number=self.to_number,
            region=self.settings.city.region, language=self.state.lang, first_move="incoming")
        key = self.menu.operator_key
        greeting = (
            self.speaker.line("greeting", city=self.city_name()),
            self.speaker.line("greeting_operator", key=key),
            "greeting_no_buttons",
        )
        self.state = replace(self.state, quiet=True, registered=recorded.number_registered)
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
        if reply.hash_only:
            # The # of a "1#" spilled from the question before: ask this one again, uncounted.
            return self.ask(step, attempt=self.state.attempt, keep=True)
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
            digits = reply.digits if reply.keyed else self.spoken_entry(step, reply)
            self.heard_spoken = not reply.keyed
            return self.follow(ENTRIES[step](self, digits))
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

    def spoken_entry(self, step: str, reply: Reply) -> str:
        """The keys a spoken answer stands for: a date in the keyed form, else its digits."""
        if step == "birth":
            said = date_from_speech(reply.speech, self.state.lang)
            keyed = keyed_form(said) if said else None
            if keyed:
                return keyed
        return number_from_speech(reply.speech, self.state.lang) or reply.digits

    def _silence(self, step: str) -> VoiceResponse:
        if step in SILENCE_MEANS:
            return self.follow(CHOICES[step](self, SILENCE_MEANS[step]))
        if step == "language":
            return self.follow(Go("menu"))
        if step == "menu" and self.state.quiet:
            # Nothing heard since the greeting: a pulse phone, or someone who cannot press.
            self.move("silent_from_start")
            return self.follow(Go("person"))
        if step == "callback_offer" and self.caller_number():
            # The offer said so: pressing nothing means "call me back on this number".
            self.move("gave_up", step)
            return self.follow(Go("unanswered"))
        return self.error("not_heard")

    def _trace(self, step: str, reply: Reply, question: Ask) -> None:
        if reply.silent:
            value = "silence"
        elif question.entry:
            value = f"{len(reply.digits)} digits"  # never the digits: birth dates, numbers
        else:
            value = reply.digits or "speech"
        self.move(step, value)
        if reply.speech and not question.entry:
            self._keep_words(reply.speech)

    def _keep_words(self, speech: str) -> None:
        """What the caller said at a menu, sealed with the call, for whoever calls them back.

        Never at an entry question (a birth date or number said aloud); only the last few.
        """
        said = calls.recall(self.session, self.call, SAID_MEMO) or []
        calls.remember(self.session, self.call, SAID_MEMO,
                       [*said, speech[:SAID_CHARACTERS]][-SAID_KEPT:])

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


# What a state's values are made of (language codes, numbers, nonces, dotted lists): nothing
# to escape in a URL, so the query is joined as it stands.
_URL_PLAIN = re.compile(r"[A-Za-z0-9._-]*")


def query_string(params: dict[str, str]) -> str:
    """The state's query string, keys sorted (escaped only when a value needs it)."""
    pairs = sorted(params.items())
    if all(_URL_PLAIN.fullmatch(key) and _URL_PLAIN.fullmatch(value) for key, value in pairs):
        return "&".join(f"{key}={value}" for key, value in pairs)
    return urlencode(pairs)


def open_flow(settings: Settings, session: Session | Callable[[], Session], state: State, *,
              call_sid: str, from_raw: str | None, to_number: str) -> CallFlow:
    """One webhook's call flow; the call's row is read or recorded when a step needs it."""
    return CallFlow(settings, session, state, audio_finder(settings), call_sid=call_sid,
                    from_raw=from_raw, to_number=to_number)
