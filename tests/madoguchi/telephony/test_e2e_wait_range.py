"""The wait a holding caller is told, heard through the simulator over a real server process.

One operator is on duty and busy; four callers asked for a callback before this one, so the
caller is fifth in line. The range said starts above zero, and as the people ahead are served
it is estimated again at each announcement from the caller's place now — narrower, then "about
N minutes" once it is short — in Japanese and in English.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

from madoguchi.models import CallbackRequest
from madoguchi.telephony.caller import HangUp, LineEvent, Moment, Press, Wait
from madoguchi.telephony.clock import VirtualClock
from madoguchi.telephony.engine import CallEngine, CallSetup
from tests.call_queue.conftest import callback_request
from tests.conftest import TEST_AUTH_TOKEN

from .live_server import live_server  # noqa: F401 (the fixture)
from .test_e2e_calls import CITY_NUMBER, network  # noqa: F401 (the fixture)
from .test_e2e_silent_callers import operator_on_duty  # noqa: F401 (the fixture)

SAID = {
    "ja": {"place": r"あなたの順番は、(\d+)番目です", "range": r"およそ(\d+)分から(\d+)分です",
           "about": r"お待ち時間は、およそ(\d+)分です", "keys": "0"},
    "en": {"place": r"You are number (\d+) in line", "range": r"about (\d+) to (\d+) minutes",
           "about": r"The wait is about (\d+) minutes", "keys": "20"},
}


class Holder:
    """Asks for a person, then listens to the hold announcements; after each one the line
    moves on as `served` says (the people ahead are called back), after the last it hangs up.
    """

    def __init__(self, keys: str, served: list[Callable[[], None] | None]) -> None:
        self.keys = list(keys)
        self.served = served
        self.announcements: list[str] = []
        self.current: list[str] = []
        self.holding = False

    def hear(self, event: LineEvent) -> None:
        """Note what is said while holding."""
        if event.kind == "hold":
            self.holding = True
        elif self.holding and event.kind == "say" and event.text.strip():
            self.current.append(event.text)

    def act(self, moment: Moment):
        """The menu keys first; on hold, one change to the line after each announcement."""
        if not self.holding:
            if moment.kind == "gather" and self.keys:
                return Press(self.keys.pop(0))
            return Wait() if moment.kind in ("gather", "record") else None
        if moment.kind == "hold" and self.current:
            self.announcements.append(" ".join(self.current))
            self.current = []
            change = self.served[len(self.announcements) - 1]
            if change is not None:
                change()
        if len(self.announcements) >= len(self.served) or moment.kind == "bridged":
            return HangUp()
        return Wait() if moment.kind in ("hold", "gather") else None


@pytest.fixture
def busy_line(app, committed_db, operator_on_duty) -> Iterator[list[int]]:  # noqa: F811
    """One operator on duty and on a call; four callbacks asked for before. Their ids."""
    session = committed_db()
    with app.app_context():
        ahead = [callback_request(session, minutes=m, number=f"+8190999900{m:02d}").id
                 for m in (3, 4, 5, 6)]
        try:
            yield ahead
        finally:
            session.close()


def _reached(committed_db, ids: list[int]) -> Callable[[], None]:
    def serve() -> None:
        with committed_db() as session:
            for ident in ids:
                session.get(CallbackRequest, ident).status = "reached"
            session.commit()
    return serve


def _told(pattern: str, text: str) -> tuple[int, ...]:
    found = re.search(pattern, text)
    assert found, text
    return tuple(int(n) for n in found.groups())


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_wait_said_starts_above_zero_and_narrows_as_the_people_ahead_are_served(
        lang, live_server, network, busy_line, committed_db):  # noqa: F811
    said = SAID[lang]
    holder = Holder(said["keys"], [_reached(committed_db, busy_line[:3]),
                                   _reached(committed_db, busy_line[3:]), None])
    result = CallEngine(TEST_AUTH_TOKEN, clock=VirtualClock(), network=network).run(CallSetup(
        url=live_server.url("/voice/incoming"), from_number="+819012345678",
        to_number=CITY_NUMBER, status_callback=live_server.url("/voice/status"),
    ), holder)
    assert result.error_code is None, result.error_message
    assert result.ended_by == "caller", result.spoken
    first, second, third = holder.announcements[:3]
    assert _told(said["place"], first) == (5,)
    low, high = _told(said["range"], first)
    assert 0 < low < high  # four people ahead: the wait does not start at 0
    assert _told(said["place"], second) == (2,)
    if re.search(said["range"], second):
        later_low, later_high = _told(said["range"], second)
        assert later_high - later_low < high - low and later_high < high
    else:
        assert _told(said["about"], second)[0] < high
    assert _told(said["place"], third) == (1,)
    assert _told(said["about"], third)[0] > 0  # short: one number, not a range from 0
    if lang == "en":
        assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", "".join(holder.announcements))
