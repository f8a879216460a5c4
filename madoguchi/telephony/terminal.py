"""A person at a terminal as the caller: the line's words printed, keys and speech typed."""

from __future__ import annotations

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
    "en": "keys 0-9 * # | say <words> | Enter = wait | hangup",
    "ja": "ボタン 0-9 * # | say <ことば> で話す | Enter で待つ | hangup で切る",
}
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
    """Prints what the line says and asks the person whenever the line listens."""

    def __init__(
        self,
        print_line: Callable[[str], None] = print,
        read_line: Callable[[str], str] = input,
        hints: str = "ja",
    ) -> None:
        self.hints = hints if hints in HELP else "en"
        self.print_line = print_line
        self.read_line = read_line
        self.shown_help = False

    def hear(self, event: LineEvent) -> None:
        """Print the line's words (notices too, so a newcomer sees what happened)."""
        self.print_line(render(event))

    def act(self, moment: Moment) -> Action | None:
        """Ask for input when the line listens or an operator is on the line."""
        if moment.kind not in ("gather", "record", "bridged"):
            return None
        if not self.shown_help:
            self.print_line(f"  ({HELP[self.hints]})")
            self.shown_help = True
        try:
            line = self.read_line(f"[{LABELS[self.hints][moment.kind]}] > ")
        except EOFError:
            return HangUp()
        return read_action(line)
