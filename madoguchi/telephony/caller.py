"""The caller's side of a simulated call: what they hear, and what they can do when.

A Caller is anything that listens and answers: a script, a test, a person at a terminal or
the console's incoming-call panel. The engine tells it every LineEvent and asks it at each
Moment what it does; keys pressed while nobody listens are lost, as on a real line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class LineEvent:
    """Something the caller hears or is told about the line.

    kind: "say" (spoken words), "play" (audio or tones), "pause" (silence of `seconds`),
    "dial" (being connected), "hold" (waiting in a queue), "record" (recording started),
    "notice" (what the network did, e.g. keys lost) or "error" (the application failed).
    """

    kind: str
    text: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class Moment:
    """A point in the call where the caller may act.

    kind: "gather" or "record" (the line listens), "hold" (waiting in a queue), "bridged"
    (talking to an operator), "ringing" (an outbound call reaching the phone), or "line"
    (the line is talking; keys pressed now are lost).
    """

    kind: str
    listening: bool = False
    timeout_seconds: int = 0
    num_digits: int | None = None
    accepts_keys: bool = False
    accepts_speech: bool = False
    language: str = ""  # the Gather's recognition language (ja-JP, en-US), when listening


@dataclass(frozen=True)
class Press:
    """Press keys (0-9, *, #) in one go."""

    keys: str


@dataclass(frozen=True)
class Speak:
    """Say something (typed as text; stands for speech recognition's result)."""

    text: str


@dataclass(frozen=True)
class Wait:
    """Stay silent and let time pass (a timeout, the next hold announcement).

    waited_seconds: silence the caller already kept in real time (a terminal that waited out
    the question's timeout), counted against the timeout instead of waiting it again.
    """

    waited_seconds: float = 0.0


@dataclass(frozen=True)
class HangUp:
    """Put the phone down."""


Action = Press | Speak | Wait | HangUp
VALID_KEYS = frozenset("0123456789*#")


class Caller(Protocol):
    """The person (or script) on the phone."""

    def hear(self, event: LineEvent) -> None:
        """Take in what the line says or does."""
        ...

    def act(self, moment: Moment) -> Action | None:
        """What the caller does at this moment; None means nothing (same as Wait)."""
        ...


def parse_keys(text: str) -> str | None:
    """The keys in text if it is only keys (spaces allowed), else None."""
    keys = "".join(text.split())
    return keys if keys and set(keys) <= VALID_KEYS else None
