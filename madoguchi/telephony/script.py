"""Scripted callers: a small journey format (press, say, wait, expect, hangup) and its runner.

    # a comment
    press 1        keys for the next question (0-9 * #)
    say 予約       speech for the next question
    wait           let the question's timeout pass (or the next hold announcement)
    expect 予約番号 the line must have said this (since the last action) before going on
    hangup         put the phone down as soon as the expected words were heard
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

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

ACTIONS = ("press", "say", "wait", "expect", "hangup")
# Hold announcements a script sits through while its next step waits for a question.
MAX_IDLE_HOLD_MOMENTS = 50


class ScriptError(ValueError):
    """A script line is wrong; the message names the line and how to fix it."""


@dataclass(frozen=True)
class Step:
    """One line of a script."""

    action: str
    argument: str
    line_no: int


def parse_script(text: str) -> list[Step]:
    """The steps of a script; raises ScriptError naming the first bad line."""
    steps = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        action, _, argument = line.partition(" ")
        action, argument = action.lower(), argument.strip()
        if action not in ACTIONS:
            raise ScriptError(
                f"line {line_no}: unknown action {action!r}; use one of {', '.join(ACTIONS)}"
            )
        if action == "press" and parse_keys(argument) is None:
            raise ScriptError(f"line {line_no}: press needs keys 0-9, * or #, e.g. 'press *1'")
        if action in ("say", "expect") and not argument:
            raise ScriptError(f"line {line_no}: {action} needs text, e.g. '{action} 予約'")
        if action in ("wait", "hangup") and argument:
            raise ScriptError(f"line {line_no}: {action} takes nothing after it")
        steps.append(Step(action, argument, line_no))
    return steps


def _normal(text: str) -> str:
    # A pause (<break>, shown as "…") inside a sentence does not change what was said.
    return re.sub(r"[\s…]+", "", text).casefold()


class ScriptCaller:
    """A Caller that follows a script; failure says why it stopped early, if it did."""

    def __init__(self, steps: list[Step], echo: Callable[[str], None] | None = None) -> None:
        self.steps = list(steps)
        self.echo = echo
        self.heard: list[LineEvent] = []
        self.window = 0  # expectations are looked for from here on
        self.failure: str | None = None
        self.idle_holds = 0

    def hear(self, event: LineEvent) -> None:
        """Remember what the line said."""
        self.heard.append(event)

    def _meet_expectations(self) -> None:
        """Consume every leading expect step already satisfied by what was heard."""
        while self.steps and self.steps[0].action == "expect":
            wanted = _normal(self.steps[0].argument)
            for index in range(self.window, len(self.heard)):
                if wanted in _normal(self.heard[index].text):
                    self.window = index + 1
                    self.steps.pop(0)
                    break
            else:
                return

    def _fail(self, step: Step, why: str) -> HangUp:
        self.failure = f"line {step.line_no}: expected {step.argument!r} but {why}"
        return HangUp()

    def _take(self) -> Step:
        step = self.steps.pop(0)
        self.window = len(self.heard)
        if self.echo:
            self.echo(f"[script] {step.action} {step.argument}".rstrip())
        return step

    def act(self, moment: Moment) -> Action | None:
        """The script's next action at this moment (see the module docstring)."""
        if self.failure:
            return HangUp()
        self._meet_expectations()
        if not self.steps:
            return None if moment.kind == "line" else HangUp()
        step = self.steps[0]
        if step.action == "expect":
            return self._unmet(step, moment)
        if step.action == "hangup":
            self._take()
            return HangUp()
        if moment.kind == "line":
            return None
        if moment.kind == "hold" and step.action != "wait":
            self.idle_holds += 1
            if self.idle_holds > MAX_IDLE_HOLD_MOMENTS:
                self.failure = f"line {step.line_no}: stayed on hold without being asked anything"
                return HangUp()
            return Wait()
        self.idle_holds = 0
        step = self._take()
        if step.action == "press":
            return Press(parse_keys(step.argument) or "")
        if step.action == "say":
            return Speak(step.argument)
        return Wait()

    def _unmet(self, step: Step, moment: Moment) -> Action | None:
        if moment.kind in ("line", "hold", "bridged"):
            if moment.kind == "hold":
                self.idle_holds += 1
                if self.idle_holds > MAX_IDLE_HOLD_MOMENTS:
                    return self._fail(step, "it was not said while on hold")
            return None if moment.kind == "line" else Wait()
        return self._fail(step, f"the line asked for input after saying: {self._recent()!r}")

    def call_ended(self) -> None:
        """Check what is left once the call is over: an unmet expectation is a failure."""
        if self.failure:
            return
        self._meet_expectations()
        if self.steps and self.steps[0].action == "expect":
            self._fail(self.steps[0], f"the call ended after: {self._recent()!r}")

    def _recent(self) -> str:
        said = [event.text for event in self.heard[self.window:] if event.kind == "say"]
        return " / ".join(said)[-300:] or "(nothing)"
