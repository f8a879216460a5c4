"""What callers on a launch day want, as answers to the line's questions (Japanese prompts).

A journey reads the question it just heard and answers with keys, with silence (None: let the
timeout pass, as while holding) or by hanging up. Keys are read out of the prompt itself ("…は、
1を押してください"), so a journey follows the configured menu instead of assuming it. A
question no rule matches ends the call as "stuck", counted and shown with its words.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from bench.callers.phone import HANGUP

# How launch day's calls divide (a vaccination round opening): most callers book.
LAUNCH_DAY_MIX = {"book": 0.55, "check": 0.15, "faq": 0.10, "hold_callback": 0.12,
                  "hold_give_up": 0.08}


def key_for(prompt: str, label: str) -> str | None:
    """The key a prompt offers for an option whose words come just before "…、Nを"."""
    match = re.search(re.escape(label) + r"[^。]*?(\d)を", prompt)
    return match.group(1) if match else None


@dataclass(frozen=True)
class Person:
    """A resident as the caller knows themself: resident number, birth date, a booking code."""

    resident_no: str
    birth: str  # YYYYMMDD
    reference: str = ""


class Journey:
    """The answers every caller gives the same way; subclasses add their errand."""

    menu_label = ""
    outcome = "done"

    def __init__(self, person: Person, rng: random.Random, phone: str = "") -> None:
        self.person = person
        self.rng = rng
        self.phone = phone  # the caller's own number, E.164

    def answer(self, prompt: str, held_seconds: float | None) -> str | None:
        """Keys for this question, None for silence, or HANGUP."""
        if "ほかに、ご用件のある方は" in prompt:
            return HANGUP  # the errand is over: a caller puts the phone down here
        if "日本語の方は" in prompt:
            return key_for(prompt, "日本語の方は")
        if "ご用件を、お選びください" in prompt:
            return key_for(prompt, self.menu_label)
        if "住民番号を" in prompt:
            return self.person.resident_no + "#"
        if "生年月日を" in prompt:
            return self.person.birth + "#"
        if "ですね" in prompt and "よろしければ" in prompt:
            return key_for(prompt, "よろしければ")
        return self.errand(prompt, held_seconds)

    def errand(self, prompt: str, held_seconds: float | None) -> str | None:
        """The questions of this journey's own errand."""
        return None

    def ended_by_line(self, prompt: str) -> str:
        """How the call is counted when the line itself ends it."""
        return self.outcome


class Book(Journey):
    """Book the earliest place offered; take the next one when it fills meanwhile."""

    menu_label = "ご予約の方は"

    def errand(self, prompt: str, held_seconds: float | None) -> str | None:
        """Choose, confirm, and keep an appointment already held."""
        if "ご予約が、確定しました" in prompt:
            self.outcome = "booked"
        if "お取りします" in prompt:
            return key_for(prompt, "よろしければ")
        offered = "空いている日時" in prompt or "満員" in prompt
        if offered or ("の方は" in prompt and "時" in prompt):
            match = re.search(r"の方は、(\d)を押して", prompt)
            if match:
                return match.group(1)
        if "すでに、" in prompt:
            self.outcome = "already-booked"
            return key_for(prompt, "このままでよい方は")
        if "予約できる空きが、ありません" in prompt:
            self.outcome = "no-places-left"
        return None

    def answer(self, prompt: str, held_seconds: float | None) -> str | None:
        """As every caller, noting a confirmed booking before hanging up."""
        if "ご予約が、確定しました" in prompt:
            self.outcome = "booked"
        if "予約できる空きが、ありません" in prompt:
            self.outcome = "no-places-left"
        return super().answer(prompt, held_seconds)


class Check(Journey):
    """Check an appointment by its reference code and keep it."""

    menu_label = "ご予約の確認や取り消し"
    outcome = "checked"

    def errand(self, prompt: str, held_seconds: float | None) -> str | None:
        """Give the code (or identify) and keep the booking as it is."""
        if "分かる方は" in prompt:
            if self.person.reference:
                return key_for(prompt, "分かる方は")
            return key_for(prompt, "番号が分からない方は")
        if "番号を押して" in prompt:
            return self.person.reference + "#"
        if "このままでよい方は" in prompt:
            return key_for(prompt, "このままでよい方は")
        return None


class Faq(Journey):
    """Listen to one or two answers to common questions, then end the call."""

    menu_label = "よくあるご質問は"
    outcome = "faq-heard"

    def __init__(self, person: Person, rng: random.Random, phone: str = "") -> None:
        super().__init__(person, rng, phone)
        self.asked = 0

    def errand(self, prompt: str, held_seconds: float | None) -> str | None:
        """Pick a question; sometimes a second; then end."""
        keys = re.findall(r"については、(\d)を", prompt)
        if keys and self.asked < 2:
            self.asked += 1
            return self.rng.choice(keys)
        if "ほかの質問を" in prompt and self.asked < 2 and self.rng.random() < 0.4:
            return key_for(prompt, "ほかの質問を")
        if "お電話を終える方は" in prompt:
            return key_for(prompt, "お電話を終える方は")
        if keys or "ほかの質問を" in prompt:
            return HANGUP
        return None


class HoldThenCallback(Journey):
    """Ask for a person, hold through the wait loop, then ask to be called back."""

    menu_label = "係の人と、お話しになりたい方は"
    outcome = "callback-requested"
    hold_range = (20.0, 90.0)

    def __init__(self, person: Person, rng: random.Random, phone: str = "") -> None:
        super().__init__(person, rng, phone)
        self.patience = rng.uniform(*self.hold_range)

    def errand(self, prompt: str, held_seconds: float | None) -> str | None:
        """Wait in line until patience runs out, then take the callback offer."""
        if "承りました" in prompt:
            return HANGUP
        if "折り返し先の、お電話番号を" in prompt:
            return "0" + self.phone.removeprefix("+81") + "#"  # dialled as at home: 090…
        if "お電話する時間を" in prompt:
            return key_for(prompt, "できるだけ早く")
        if held_seconds is not None and held_seconds < self.patience:
            return None
        return (key_for(prompt, "折り返しのお電話をご希望の方は")
                or key_for(prompt, "折り返しお電話する方は"))

    def ended_by_line(self, prompt: str) -> str:
        """A call the line ends after taking the request counts as a callback."""
        return self.outcome if "承りました" in prompt else "line-ended-hold"


class HoldThenGiveUp(HoldThenCallback):
    """Ask for a person, hold for a while, then hang up (counted as abandoned)."""

    outcome = "gave-up-holding"

    def errand(self, prompt: str, held_seconds: float | None) -> str | None:
        """Hold silently; hang up once patience runs out."""
        if held_seconds is None:
            return super().errand(prompt, held_seconds)
        return None if held_seconds < self.patience else HANGUP


JOURNEYS = {"book": Book, "check": Check, "faq": Faq, "hold_callback": HoldThenCallback,
            "hold_give_up": HoldThenGiveUp}


def pick_journey(rng: random.Random, mix: dict[str, float] = LAUNCH_DAY_MIX) -> str:
    """A journey name drawn from the mix."""
    names = list(mix)
    return rng.choices(names, weights=[mix[name] for name in names])[0]
