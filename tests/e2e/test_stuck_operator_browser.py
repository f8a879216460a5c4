"""A caller who hangs up while put through frees their operator: wrap-up, then available.

The operator never ends the call here; only the caller's side goes. The simulator reports it as
Twilio does (the operator leg's status, the Dial action, the call's final status), and the
browser shows the operator in wrap-up with the form, then available once it is saved.
"""

from __future__ import annotations

import threading

from sqlalchemy import select

from madoguchi.models import Call, Operator
from madoguchi.sealing import blind
from madoguchi.telephony.caller import HangUp, LineEvent, Moment, Press, Speak, Wait
from madoguchi.telephony.engine import CallEngine, CallSetup
from madoguchi.telephony.network import SimulatedNetwork
from tests.conftest import TEST_AUTH_TOKEN
from tests.e2e.conftest import HundredfoldClock, log_in
from tests.e2e.test_console_browser import LANDING, city  # noqa: F401 (city is a fixture)
from tests.e2e.test_work_browser import CALLER_NUMBER, CITY_NUMBER

WORDS = "やっぱり結構です"
CALL_SECONDS = 60


class CallerWhoHangsUp:
    """Presses 0 for a person, says a few words to the operator, then hangs up when told."""

    def __init__(self) -> None:
        self.heard: list[LineEvent] = []
        self.asked = False
        self.spoke = False
        self.hang_up = threading.Event()

    def hear(self, event: LineEvent) -> None:
        """Remember what the line said and did."""
        self.heard.append(event)

    def act(self, moment: Moment):
        """0 at the first question; the words once bridged; hang up when told."""
        if moment.kind == "gather" and not self.asked:
            self.asked = True
            return Press("0")
        if moment.kind == "bridged" and not self.spoke:
            self.spoke = True
            return Speak(WORDS)
        if moment.kind == "bridged" and self.hang_up.is_set():
            return HangUp()
        return Wait()


def test_a_caller_hanging_up_while_put_through_leaves_the_operator_in_wrap_up_then_available(
        page, city, live_server, committed_db, redis_client):  # noqa: F811
    log_in(page, "yamada", lands_on=LANDING)
    page.goto("/console/work")
    page.click("#live-state button[value=available]")
    page.wait_for_selector("#own-state.state-available")

    caller = CallerWhoHangsUp()
    engine = CallEngine(TEST_AUTH_TOKEN, clock=HundredfoldClock(),
                        network=SimulatedNetwork(redis_client))
    setup = CallSetup(url=f"{live_server}/voice/incoming", from_number=CALLER_NUMBER,
                      to_number=CITY_NUMBER, status_callback=f"{live_server}/voice/status")
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(result=engine.run(setup, caller)),
                              daemon=True)
    thread.start()
    page.wait_for_selector("#connected-call.live", timeout=30_000)
    page.wait_for_function(f"document.getElementById('heard').innerText.includes('{WORDS}')",
                           timeout=30_000)
    page.wait_for_selector("#own-state.state-on_call")

    caller.hang_up.set()
    thread.join(timeout=CALL_SECONDS)
    assert not thread.is_alive(), "the simulated call did not end"
    assert outcome["result"].ended_by == "caller"
    page.wait_for_selector("#own-state.state-wrap_up", timeout=30_000)
    page.wait_for_selector("#wrap-up:not([hidden])", timeout=30_000)
    with committed_db() as session:
        call = session.scalar(select(Call).where(
            blind.matches(Call.from_digest, "phone", CALLER_NUMBER)))
        assert call.ended_at is not None and call.operator_id == city["operator_id"]
        assert session.get(Operator, city["operator_id"]).state == "wrap_up"

    page.select_option("#disposition", "dropped")
    with page.expect_navigation():
        page.click("#wrap-available")
    page.wait_for_selector("#own-state.state-available")
    with committed_db() as session:
        assert session.get(Operator, city["operator_id"]).state == "available"
