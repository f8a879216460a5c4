"""The supervisors' live page in a real browser: tiles move as a simulated caller holds and
leaves, and an operator is refused the page.

The caller is played by the simulator's engine over HTTP against the same server process the
browser uses (shared test database and Redis); the tiles arrive by server-sent events.
"""

from __future__ import annotations

import threading

from agent_console.services import accounts
from call_queue import line_services, operator_states
from madoguchi.models import utcnow
from madoguchi.telephony.caller import HangUp, LineEvent, Moment, Press, Wait
from madoguchi.telephony.engine import CallEngine, CallSetup
from madoguchi.telephony.network import SimulatedNetwork
from tests.conftest import TEST_AUTH_TOKEN
from tests.e2e.conftest import PASSWORD, HundredfoldClock, log_in

CITY_NUMBER = "+81312345678"
CALLER_NUMBER = "+819055556666"
HOLDING = '[data-tile="holding_now"] [data-part="text"]'
ABANDONED = '[data-tile="abandoned_rate_percent"] [data-part="text"]'


class HoldingCaller:
    """Presses 0 for a person, holds in line until told to go, then hangs up."""

    def __init__(self) -> None:
        self.asked = False
        self.in_line = threading.Event()
        self.leave = threading.Event()

    def hear(self, event: LineEvent) -> None:
        """Notice being put in line (the line says the place: 1番目)."""
        if "番目" in event.text:
            self.in_line.set()

    def act(self, moment: Moment):
        """0 at the first question; once in line, stay there until told to leave."""
        if moment.kind == "gather" and not self.asked:
            self.asked = True
            return Press("0")
        if self.in_line.is_set():
            self.leave.wait(timeout=60)
            return HangUp()
        return Wait()


def _text_becomes(page, selector: str, text: str) -> None:
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector).textContent.trim() === text",
        arg=[selector, text], timeout=20_000)


def test_the_live_tiles_follow_a_caller_who_holds_and_hangs_up(
        page, live_server, app, committed_db, redis_client, screenshot):
    with committed_db() as session:
        accounts.create_operator(session, username="kimura", display_name="木村 SV",
                                 password=PASSWORD, role="supervisor")
        busy = accounts.create_operator(session, username="sato", display_name="佐藤 オペ",
                                        password=PASSWORD, role="operator")
    with app.app_context(), committed_db() as session:
        # On duty but on a call: a caller asking for a person is put in line and holds.
        operator_states.set_state(session, line_services.board(), busy.id, "on_call", utcnow())

    log_in(page, "kimura")
    page.goto("/console/live")
    _text_becomes(page, HOLDING, "0")
    assert page.locator('[data-tile="operators_on_call"] [data-part="text"]').inner_text() == "1"

    caller = HoldingCaller()
    engine = CallEngine(TEST_AUTH_TOKEN, clock=HundredfoldClock(),
                        network=SimulatedNetwork(redis_client))
    setup = CallSetup(url=f"{live_server}/voice/incoming", from_number=CALLER_NUMBER,
                      to_number=CITY_NUMBER, status_callback=f"{live_server}/voice/status")
    call = threading.Thread(target=engine.run, args=(setup, caller), daemon=True)
    call.start()
    try:
        assert caller.in_line.wait(timeout=30), "the caller was never put in line"
        _text_becomes(page, HOLDING, "1")
        screenshot(page, "supervisor-live")
    finally:
        caller.leave.set()
        call.join(timeout=30)

    _text_becomes(page, HOLDING, "0")
    # Hung up before an operator answered: abandoned, 1 of the 1 callers whose wait ended;
    # one caller is too few to colour a rate ([supervisor] rates_need_callers).
    _text_becomes(page, ABANDONED, "1件（100%）")
    assert page.locator('[data-tile="abandoned_rate_percent"]').get_attribute(
        "data-level") == "ok"


def test_an_operator_is_refused_the_live_page(page, committed_db):
    with committed_db() as session:
        accounts.create_operator(session, username="sato", display_name="佐藤 オペ",
                                 password=PASSWORD, role="operator")
    log_in(page, "sato")
    response = page.goto("/console/live")
    assert response.status == 403
    assert page.locator('[data-tile="holding_now"]').count() == 0


def test_the_history_charts_are_drawn_by_the_local_chart_library_without_csp_errors(
        page, committed_db):
    with committed_db() as session:
        accounts.create_operator(session, username="kimura", display_name="木村 SV",
                                 password=PASSWORD, role="supervisor")
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    log_in(page, "kimura")
    page.goto("/console/history")
    for chart in ("volume", "waits", "service-level", "callbacks"):
        assert page.evaluate(
            "(id) => Boolean(window.Chart && Chart.getChart(document.getElementById(id)))",
            f"chart-{chart}")
    assert page.locator("#table-volume tbody tr").count() == 96
    assert page.locator("#table-volume tbody tr").first.inner_text().split() == [
        "00:00", "0", "0", "0", "0"]
    assert errors == []
