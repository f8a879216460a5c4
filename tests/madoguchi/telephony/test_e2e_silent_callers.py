"""Callers who press nothing, through the simulator against a real server process.

The line is open but nobody can take the call (no operator on duty, no number to put calls
through to), unless a test puts an operator on duty. Time is the simulator's virtual clock:
every sentence takes as long as it takes to say, every question waits out its timeout.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from call_queue import line_services, operator_states
from madoguchi.models import CallbackRequest, utcnow
from madoguchi.telephony.caller import HangUp, LineEvent, Moment, Press, Wait
from madoguchi.telephony.clock import VirtualClock
from madoguchi.telephony.engine import WITHHELD_CALLER_ID, CallEngine, CallResult, CallSetup
from tests import factories
from tests.conftest import TEST_AUTH_TOKEN

from .live_server import live_server  # noqa: F401 (the fixture)
from .test_e2e_calls import CITY_NUMBER, call_row, city, network  # noqa: F401 (fixtures)

KNOWN = "+819012345678"
KNOWN_SPOKEN = "0 9 0 … 1 2 3 4 … 5 6 7 8"
# The bound: from the greeting to "we will call you back at 090 …".
MAX_STEPS = 6
MAX_SECONDS = 90
# Listening moments after which the silent caller puts the phone down.
PATIENCE = 14


JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def after_the_greeting(spoken: str) -> str:
    """What the line said after its bilingual greeting (which ends on the English repeat hint)."""
    return spoken.split("To hear this again, press 9.", 1)[1]


class SilentCaller:
    """Says and presses nothing (after an optional first key), noting when each thing is heard."""

    def __init__(self, clock: VirtualClock, first_keys: str = "") -> None:
        self.clock = clock
        self.first_keys = first_keys
        self.questions = 0
        self.heard: list[tuple[float, int, LineEvent]] = []

    def hear(self, event: LineEvent) -> None:
        """Listen, noting the time and how many questions went by before."""
        self.heard.append((self.clock.now(), self.questions, event))

    def act(self, moment: Moment):
        """Silence at every question; a first key if told; the phone put down in the end."""
        if moment.kind not in ("gather", "record"):
            return Wait() if moment.kind == "hold" else None
        self.questions += 1
        if self.questions > PATIENCE:
            return HangUp()
        if self.questions == 1 and self.first_keys:
            return Press(self.first_keys)
        return Wait()

    def first(self, words: str) -> tuple[float, int] | None:
        """(seconds since the call began when the sentence with these words ends, its webhook
        step), or None. The simulator says a whole document at an even pace."""
        for at, questions, event in self.heard:
            if event.kind == "say" and words in event.text:
                end = event.text.find("。", event.text.index(words))
                said = (end + 1 if end >= 0 else len(event.text)) / len(event.text)
                return at + event.seconds * said, questions + 1  # step 1: the incoming call
        return None


@pytest.fixture
def dial(live_server, network) -> Iterator:  # noqa: F811 (the fixtures imported above)
    """Call the city's number with a silent caller; returns (caller, result)."""

    def place(from_number: str, first_keys: str = "") -> tuple[SilentCaller, CallResult]:
        clock = VirtualClock()
        caller = SilentCaller(clock, first_keys)
        result = CallEngine(TEST_AUTH_TOKEN, clock=clock, network=network).run(CallSetup(
            url=live_server.url("/voice/incoming"), from_number=from_number,
            to_number=CITY_NUMBER, status_callback=live_server.url("/voice/status"),
            fallback_url=live_server.url("/voice/fallback"),
        ), caller)
        assert result.error_code is None, result.error_message
        assert result.ended_by == "caller", result.spoken  # only the caller ended the call
        assert all(r.status == 200 for r in result.requests if not r.url.endswith("/status"))
        return caller, result

    return place


@pytest.fixture
def operator_on_duty(app, committed_db) -> Iterator[int]:
    """One operator on duty, busy on another call."""
    session = committed_db()
    with app.app_context():
        operator_id = factories.operator(session).id
        session.commit()
        operator_states.set_state(session, line_services.board(), operator_id, "on_call",
                                  utcnow())
        try:
            yield operator_id
        finally:
            session.close()


def callbacks(committed_db) -> list[tuple[str, str]]:
    """(number, reason) of every callback request the server recorded."""
    with committed_db() as session:
        return [(r.phone_e164, r.reason) for r in session.scalars(select(CallbackRequest))]


def test_a_silent_caller_with_a_caller_id_hears_the_callback_number_within_6_steps_and_90_s(
    city, dial, committed_db  # noqa: F811
):
    caller, result = dial(KNOWN)
    told = caller.first("お声が、聞き取れませんでしたので")
    assert told is not None, result.spoken
    seconds, step = told
    assert step <= MAX_STEPS and seconds <= MAX_SECONDS, (step, seconds)
    assert KNOWN_SPOKEN in result.spoken
    assert not [e for _, _, e in caller.heard if e.kind == "record"]  # no voicemail unasked
    assert callbacks(committed_db) == [(KNOWN, "silent_caller")]
    assert call_row(committed_db, result).outcome == "callback"


def test_an_english_caller_who_then_goes_silent_is_called_back_too(
    city, dial, committed_db  # noqa: F811
):
    caller, result = dial(KNOWN, first_keys="2")
    told = caller.first("We could not hear you")
    assert told is not None, result.spoken
    assert told[1] <= MAX_STEPS + 1  # one key, then the menu's two re-prompts and the offer
    assert "If you press nothing, we will call you back" in result.spoken
    assert not JAPANESE.search(after_the_greeting(result.spoken)), result.spoken
    assert KNOWN_SPOKEN in result.spoken
    assert not [e for _, _, e in caller.heard if e.kind == "record"]
    assert callbacks(committed_db) == [(KNOWN, "silent_caller")]


def test_a_silent_withheld_caller_is_offered_the_recording_once_and_told_the_other_ways(
    city, dial, committed_db  # noqa: F811
):
    caller, result = dial(WITHHELD_CALLER_ID)
    recordings = [e for _, _, e in caller.heard if e.kind == "record"]
    assert len(recordings) == 1
    told = caller.first("番号が通知されていないため")
    assert told is not None, result.spoken
    assert "窓口" in result.spoken and "1 8 6" in result.spoken
    assert "おかけ直し" not in result.spoken and "またお電話" not in result.spoken
    assert callbacks(committed_db) == []


def test_an_english_withheld_caller_hears_the_other_ways_in_english(
    city, dial, committed_db  # noqa: F811
):
    caller, result = dial(WITHHELD_CALLER_ID, first_keys="2")
    assert len([e for _, _, e in caller.heard if e.kind == "record"]) == 1
    assert caller.first("Your number is not shown on this call") is not None, result.spoken
    assert "City Hall counter" in result.spoken
    assert "call again" not in result.spoken.lower()
    assert not JAPANESE.search(after_the_greeting(result.spoken)), result.spoken


def test_with_an_operator_on_duty_a_silent_caller_is_in_line_by_the_third_step(
    city, dial, operator_on_duty, committed_db  # noqa: F811
):
    caller, result = dial(KNOWN)
    holds = [questions for _, questions, event in caller.heard if event.kind == "hold"]
    assert holds, result.spoken
    assert holds[0] + 1 <= 3
    assert "queue_joined" in [step["node"] for step in call_row(committed_db, result).path]
