"""A person at a terminal as the caller: the line's words printed, keys and speech typed."""

from __future__ import annotations

import select
import sys
import time
from collections.abc import Callable

from madoguchi.telephony.caller import (
    Action,
    HangUp,
    LineEvent,
    Moment,
    Press,
    Speak,
    Wait,
    parse_keys,
)

HELP = {
    "en": "keys 0-9 * # | say <words> | Enter, or saying nothing until the question times out "
          "= silence | hangup",
    "ja": "ボタン 0-9 * # | say <ことば> で話す | Enter か、何もせずに待つと無言 | hangup で切る",
}
SILENCE = {"en": "(silence)", "ja": "（無言）"}
# The line's recognition language (a Gather's language attribute) to the hints' language.
HINT_LANGUAGES = {"ja": "ja", "en": "en"}
LABELS = {
    "en": {"gather": "your turn", "record": "recording", "bridged": "to the operator"},
    "ja": {"gather": "どうぞ", "record": "録音中", "bridged": "係の人へ"},
}
_PREFIX = {"say": "» ", "play": "♪ ", "pause": "  ", "dial": "☎ ", "hold": "⏳ ",
           "record": "● ", "notice": "  · ", "error": "!! "}


def render(event: LineEvent) -> str:
    """One line of terminal output for what the line said or did."""
    if event.kind == "pause":
        return f"  … ({event.seconds:g} s)"
    return _PREFIX.get(event.kind, "  ") + event.text


def timed_input(prompt: str, seconds: float | None) -> str | None:
    """A typed line, or None when nothing was typed within `seconds` (None: wait for ever)."""
    if seconds is None or not sys.stdin.isatty():
        return input(prompt)
    print(prompt, end="", flush=True)
    ready, _, _ = select.select([sys.stdin], [], [], seconds)
    if not ready:
        print()
        return None
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\n")


def read_action(line: str) -> Action:
    """What a typed line means: keys, speech, waiting or hanging up."""
    text = line.strip()
    if text in ("", "wait"):
        return Wait()
    if text.lower() in ("hangup", "hang up", "bye"):
        return HangUp()
    keys = parse_keys(text)
    if keys is not None:
        return Press(keys)
    return Speak(text.removeprefix("say ").strip())


class TerminalCaller:
    """Prints what the line says and asks the person whenever the line listens.

    A question the person leaves unanswered times out by itself after the line's own timeout
    (or `silence_seconds`, when shorter), as on a real phone. The hints follow the language the
    line speaks once the caller has chosen one, unless a language was fixed.
    """

    def __init__(
        self,
        print_line: Callable[[str], None] = print,
        read_line: Callable[[str, float | None], str | None] = timed_input,
        hints: str = "ja",
        *,
        follow_line: bool = True,
        silence_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hints = hints if hints in HELP else "en"
        self.print_line = print_line
        self.read_line = read_line
        self.follow_line = follow_line
        self.silence_seconds = silence_seconds
        self.clock = clock
        self.shown_help: str | None = None

    def hear(self, event: LineEvent) -> None:
        """Print the line's words (notices too, so a newcomer sees what happened)."""
        self.print_line(render(event))

    def _wait_limit(self, moment: Moment) -> float | None:
        if moment.kind == "bridged" or moment.timeout_seconds <= 0:
            return self.silence_seconds
        limit = float(moment.timeout_seconds)
        return min(limit, self.silence_seconds) if self.silence_seconds is not None else limit

    def act(self, moment: Moment) -> Action | None:
        """Ask for input when the line listens or an operator is on the line."""
        if moment.kind not in ("gather", "record", "bridged"):
            return None
        spoken = HINT_LANGUAGES.get(moment.language[:2]) if moment.language else None
        if self.follow_line and spoken:
            self.hints = spoken
        if self.shown_help != self.hints:
            self.print_line(f"  ({HELP[self.hints]})")
            self.shown_help = self.hints
        limit = self._wait_limit(moment)
        started = self.clock()
        try:
            line = self.read_line(f"[{LABELS[self.hints][moment.kind]}] > ", limit)
        except EOFError:
            return HangUp()
        if line is None:
            self.print_line(f"  {SILENCE[self.hints]}")
            return Wait(waited_seconds=self.clock() - started)
        return read_action(line)
