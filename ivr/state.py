"""What a step returns and what travels between requests: the state in the action URL,
the question to ask, and where an answer leads."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from twilio.twiml.voice_response import VoiceResponse

from madoguchi.query_values import parse_whole
from madoguchi.settings import MenuSettings
from madoguchi.voice.speech import Line

YES, NO = "1", "2"
# What an identification is for: a new booking, the caller's own booking or cases, or the
# booking a caller named by its reference number (which a neighbour could read off a note).
GOALS = ("book", "check", "code")


def later_key(menu: MenuSettings) -> str:
    """The key for "later dates" / "more questions": 9 unless 9 repeats or reaches a person."""
    return next(key for key in ("9", "8", "7") if key not in (menu.repeat_key, menu.operator_key))


def new_nonce() -> str:
    """A fresh nonce for a question: tells it from the call's other questions."""
    # Not secrets.token_hex: os.urandom lets go of the GIL, and among a web process's many
    # threads each let-go is a wait to get it back. The nonce guards nothing (Twilio signs
    # the URL it travels in); it only keys a step's work once per question.
    return f"{random.getrandbits(32):08x}"


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
    # Whether the caller's number is registered, learnt in the statement that recorded the
    # call; None when not known, and from the moment the call identifies someone (the row
    # then says who), so that "book" at the menu needs no query. No name, number or date:
    # only which question comes first, and Twilio, which alone sees these URLs beside the
    # caller's number, already learns as much from the reminders the city sends through it.
    registered: bool | None = None

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
        if self.registered is not None:
            params["r"] = "1" if self.registered else "0"
        return params

    @classmethod
    def parse(cls, step: str, args: Mapping[str, str], languages: list[str]) -> State:
        """The state from query parameters; anything malformed falls back to a safe default."""

        def number(name: str, default: int | None) -> int | None:
            raw = args.get(name, "")
            value = parse_whole(raw)
            return default if value is None else value

        lang = args.get("l", "")
        nonce = args.get("k", "")[:16]
        offered = tuple(
            value for part in args.get("o", "").split(".")[:6]
            if (value := parse_whole(part)) is not None
        )
        return cls(
            step=step,
            lang=lang if lang in languages else languages[0],
            attempt=min(number("a", 0) or 0, 10),
            quiet=args.get("q") == "1",
            goal=args.get("g", "") if args.get("g") in GOALS else "",
            via_caller_id=args.get("c") == "1",
            move=args.get("m") == "1",
            offered=offered,
            after=number("p", None),
            item=number("i", None),
            nonce=nonce if nonce.isascii() and nonce.isalnum() else "",
            registered={"1": True, "0": False}.get(args.get("r", "")),
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


def options(flow: CallFlow, pairs: list[tuple[str, str, str]]) -> tuple[tuple[Line, ...], dict]:
    """Option sentences (option before key) and their choices from (prompt key, key, intent)."""
    lines = tuple(flow.speaker.line(prompt, key=key) for prompt, key, _ in pairs)
    return lines, {key: intent for _, key, intent in pairs}


def yes_no(flow: CallFlow, prompt: str = "confirm_yes_no") -> Line:
    """The confirmation sentence with the yes and no keys."""
    return flow.speaker.line(prompt, yes=YES, no=NO)


if TYPE_CHECKING:
    from ivr.flow import CallFlow
