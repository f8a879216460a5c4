"""Pure TwiML builders: a description of what to say and ask goes in, a VoiceResponse comes out.

Nothing here reads the database, the clock or the request. Every <Gather> listens for keys and
speech, posts even an empty result to our code, and is followed by a <Redirect> to the same
place, so that silence can never run the document out of verbs (which would end the call).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from twilio.twiml.voice_response import Gather, VoiceResponse

from madoguchi.voice.speech import PAUSE_MARK, Line, Pause, Utterance
from prompts import Voice

# Seconds of silence that end a spoken answer: explicit, because "auto" cuts older speakers off.
SPEECH_TIMEOUT_SECONDS = 3
# Twilio accepts a limited hints list; the menu words fit easily.
MAX_HINTS_CHARS = 480


@dataclass(frozen=True)
class Voicing:
    """How to speak: a voice per language, the caller's language, the pace, recorded audio."""

    voices: Mapping[str, Voice]
    lang: str
    rate_percent: int = 90
    audio: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def voice(self, lang: str | None) -> Voice:
        """The voice for a language (the caller's when None)."""
        return self.voices[lang or self.lang]


@dataclass(frozen=True)
class Question:
    """A question to put to the caller and where the answer goes."""

    action_url: str
    utterance: Utterance
    hints: tuple[str, ...] = ()
    timeout_seconds: int = 8
    single_key: bool = True


def _tokens(items: list[Line | Pause]) -> list[str | int]:
    """Text and pauses (ms) in order, with adjacent texts joined and "|" turned into pauses."""
    tokens: list[str | int] = []
    for item in items:
        if isinstance(item, Pause):
            pieces: list[str | int] = [item.ms]
        else:
            pieces = []
            for index, part in enumerate(item.text.split(PAUSE_MARK)):
                if index:
                    pieces.append(-1)  # the default pause, sized by the caller of _tokens
                if part.strip():
                    pieces.append(part.strip())
        for piece in pieces:
            if tokens and isinstance(piece, str) and isinstance(tokens[-1], str):
                tokens[-1] = f"{tokens[-1]} {piece}"
            elif tokens and isinstance(piece, int) and isinstance(tokens[-1], int):
                tokens[-1] = max(tokens[-1], piece)
            else:
                tokens.append(piece)
    return tokens


def _say(parent: VoiceResponse | Gather, items: list[Line | Pause], lang: str | None,
         voicing: Voicing, pause_ms: int) -> None:
    tokens = _tokens(items)
    if not any(isinstance(token, str) for token in tokens):
        return
    voice = voicing.voice(lang)
    say = parent.say(voice=voice.voice, language=voice.language)
    prosody = say.prosody(rate=f"{voicing.rate_percent}%")
    while tokens and isinstance(tokens[-1], int):
        tokens.pop()
    for token in tokens:
        if isinstance(token, str):
            prosody.nest(token)
        else:
            ms = pause_ms if token < 0 else token
            prosody.break_(time=f"{ms}ms")


def speak(parent: VoiceResponse | Gather, utterance: Utterance, voicing: Voicing,
          pause_ms: int = 500) -> None:
    """Add <Say> (with SSML pauses and rate) or <Play> for recorded prompts to a verb."""
    run: list[Line | Pause] = []
    run_lang: str | None = None
    for item in utterance:
        lang = item.lang if isinstance(item, Line) else run_lang
        audio = None
        if isinstance(item, Line) and item.key:
            audio = voicing.audio.get((lang or voicing.lang, item.key))
        if audio or (isinstance(item, Line) and lang != run_lang and run):
            _say(parent, run, run_lang, voicing, pause_ms)
            run = []
        if audio:
            parent.play(audio)
            continue
        if isinstance(item, Line):
            run_lang = lang
        run.append(item)
    _say(parent, run, run_lang, voicing, pause_ms)


def question(spec: Question, voicing: Voicing, pause_ms: int = 500) -> VoiceResponse:
    """A <Gather> for keys or speech that always comes back to our code, then a <Redirect>."""
    voice = voicing.voice(None)
    response = VoiceResponse()
    options: dict[str, object] = {
        "input": "dtmf speech",
        "action": spec.action_url,
        "method": "POST",
        "timeout": spec.timeout_seconds,
        "speech_timeout": str(SPEECH_TIMEOUT_SECONDS),
        "language": voice.language,
        "action_on_empty_result": True,
    }
    hints = ",".join(spec.hints)
    if len(hints) > MAX_HINTS_CHARS:
        hints = hints[:MAX_HINTS_CHARS].rsplit(",", 1)[0]
    if hints:
        options["hints"] = hints
    if spec.single_key:
        options["num_digits"] = 1
    else:
        options["finish_on_key"] = "#"
    gather = response.gather(**options)
    speak(gather, spec.utterance, voicing, pause_ms)
    response.redirect(spec.action_url, method="POST")
    return response


class Rendered(VoiceResponse):
    """A TwiML document already rendered to text (a reused question with its own action URL)."""

    def __init__(self, xml: str) -> None:
        super().__init__()
        self.xml = xml

    def to_xml(self, xml_declaration: bool = True) -> str:
        """The rendered document (always with its XML declaration)."""
        return self.xml


# Stands in for the action URL in a rendered question; nothing else in TwiML can contain it.
_ACTION_MARK = "https://action.invalid/mark"


@functools.lru_cache(maxsize=512)
def _rendered_question(utterance: Utterance, hints: tuple[str, ...], timeout_seconds: int,
                       single_key: bool, voices: tuple, lang: str, rate_percent: int,
                       audio: tuple, pause_ms: int) -> str:
    spec = Question(action_url=_ACTION_MARK, utterance=utterance, hints=hints,
                    timeout_seconds=timeout_seconds, single_key=single_key)
    voicing = Voicing(voices=dict(voices), lang=lang, rate_percent=rate_percent,
                      audio=dict(audio))
    return question(spec, voicing, pause_ms).to_xml()


def reused_question(spec: Question, voicing: Voicing, pause_ms: int = 500) -> VoiceResponse:
    """question(), rendered once per wording, voice, pace and audio, and reused with the URL.

    For questions of fixed prompts: the document differs between calls only by its action URL
    (the nonce), so it is rendered once and the URL put in.
    """
    xml = _rendered_question(
        spec.utterance, spec.hints, spec.timeout_seconds, spec.single_key,
        tuple(sorted(voicing.voices.items())), voicing.lang, voicing.rate_percent,
        tuple(sorted(voicing.audio.items())), pause_ms)
    return Rendered(xml.replace(_ACTION_MARK, escape(spec.action_url, {'"': "&quot;"})))


def announce_then(utterance: Utterance, voicing: Voicing, url: str,
                  pause_ms: int = 500) -> VoiceResponse:
    """Say something, then continue at a URL."""
    response = VoiceResponse()
    speak(response, utterance, voicing, pause_ms)
    response.redirect(url, method="POST")
    return response


def goodbye(utterance: Utterance, voicing: Voicing, pause_ms: int = 500) -> VoiceResponse:
    """The caller has finished: say goodbye and end the call."""
    response = VoiceResponse()
    speak(response, utterance, voicing, pause_ms)
    response.hangup()
    return response


def connect(utterance: Utterance, voicing: Voicing, number: str, action_url: str,
            ring_seconds: int = 30, pause_ms: int = 500) -> VoiceResponse:
    """Put the caller through to a number; the action URL hears how it went."""
    response = VoiceResponse()
    speak(response, utterance, voicing, pause_ms)
    dial = response.dial(action=action_url, method="POST", timeout=ring_seconds)
    dial.number(number)
    return response


def record_message(utterance: Utterance, voicing: Voicing, action_url: str,
                   max_seconds: int = 120, pause_ms: int = 500) -> VoiceResponse:
    """Announce, then record a message (no transcription); an empty recording goes on too."""
    response = VoiceResponse()
    speak(response, utterance, voicing, pause_ms)
    response.record(
        action=action_url, method="POST", max_length=max_seconds, finish_on_key="#",
        play_beep=True, timeout=10, trim="trim-silence",
    )
    response.redirect(action_url, method="POST")
    return response
