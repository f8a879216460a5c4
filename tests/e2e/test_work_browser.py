"""An operator's call in a real browser: a simulated caller is taken, served and wrapped up.

The caller is played by the simulator's engine over HTTP against the same server process the
browser uses, on the shared test database and Redis; the browser gets the line pushed over
server-sent events.
"""

from __future__ import annotations

import re
import threading
from datetime import date, timedelta

from sqlalchemy import select

from agent_console.services import accounts
from madoguchi import booking
from madoguchi.models import (
    AuditEntry,
    Booking,
    Call,
    CallbackRequest,
    Inquiry,
    Operator,
    Resident,
    utcnow,
)
from madoguchi.sealing import blind
from madoguchi.telephony.caller import LineEvent, Moment, Press, Speak, Wait
from madoguchi.telephony.engine import CallEngine, CallSetup
from madoguchi.telephony.network import SimulatedCall, SimulatedNetwork, new_sid
from tests.conftest import TEST_AUTH_TOKEN
from tests.e2e.conftest import PASSWORD, HundredfoldClock, log_in
from tests.e2e.test_console_browser import LANDING, city  # noqa: F401 (city is a fixture)

CITY_NUMBER = "+81312345678"
CALLER_NUMBER = "+819012345678"  # 佐藤 花子's registered mobile in the city fixture
WORDS = "来週の予約を取りたいのですが"
CALL_SECONDS = 120


class CallerForAPerson:
    """Presses 0 for a person, tells the operator what they want, then listens until the end."""

    def __init__(self, words: str) -> None:
        self.words = words
        self.heard: list[LineEvent] = []
        self.asked_for_person = False
        self.spoke = False

    def hear(self, event: LineEvent) -> None:
        """Remember everything the line said and did."""
        self.heard.append(event)

    def act(self, moment: Moment):
        """0 at the first question; the words once bridged; otherwise stay on the line."""
        if moment.kind == "gather" and not self.asked_for_person:
            self.asked_for_person = True
            return Press("0")
        if moment.kind == "bridged" and not self.spoke:
            self.spoke = True
            return Speak(self.words)
        return Wait()


def _call_in_background(live_server: str, redis_client) -> tuple[threading.Thread, dict]:
    outcome: dict = {}
    caller = CallerForAPerson(WORDS)
    engine = CallEngine(TEST_AUTH_TOKEN, clock=HundredfoldClock(),
                        network=SimulatedNetwork(redis_client))
    setup = CallSetup(url=f"{live_server}/voice/incoming", from_number=CALLER_NUMBER,
                      to_number=CITY_NUMBER, status_callback=f"{live_server}/voice/status")

    def run() -> None:
        outcome["result"] = engine.run(setup, caller)
        outcome["caller"] = caller

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_an_operator_takes_a_caller_books_logs_an_inquiry_ends_and_wraps_up(
        page, city, live_server, committed_db, redis_client, screenshot):  # noqa: F811
    log_in(page, "yamada", lands_on=LANDING)
    page.goto("/console/work")
    page.click("#live-state button[value=available]")
    page.wait_for_selector("#own-state.state-available")
    screenshot(page, "work-waiting")

    thread, outcome = _call_in_background(live_server, redis_client)
    # Screen pop: the caller is known by number, so their record opens by itself.
    page.wait_for_selector("#pop-resident", timeout=30_000)
    page.wait_for_selector("#connected-call.live", timeout=30_000)
    page.wait_for_function(f"document.getElementById('heard').innerText.includes('{WORDS}')",
                           timeout=30_000)
    assert "佐藤 花子" in page.locator("#pop-resident").inner_text()
    assert "ごみ" in page.locator("#pop-inquiries").inner_text() or \
        "粗大ごみ" in page.locator("#pop-inquiries").inner_text()
    screenshot(page, "work-connected")

    # The one-place slot is taken on the phone line meanwhile: the operator is told plainly.
    page.fill("#day", city["day"])
    with page.expect_navigation():
        page.click("#slot-search")
    page.wait_for_selector("#pop-slot-list")
    last_place = city["slot_ids"][1]
    with committed_db() as session:
        other = Resident(resident_no="20240009", name="田中 三郎", name_kana="タナカ サブロウ",
                         birth_date=date(1945, 1, 1))
        session.add(other)
        session.commit()
        booking.book(session, slot_id=last_place, resident_id=other.id, channel="ivr")
    with page.expect_navigation():
        page.click(f"button[data-slot='{last_place}']")
    assert "この枠はたった今満員になりました" in page.locator(".flash-error").inner_text()

    with page.expect_navigation():
        page.click(f"button[data-slot='{city['slot_ids'][0]}']")
    booked = page.locator(".flash-success").inner_text()
    with committed_db() as session:
        made = session.scalar(select(Booking).where(Booking.resident_id == city["resident_id"]))
        assert (made.channel, made.operator_id) == ("operator", city["operator_id"])
    assert made.reference in booked and made.reference in page.locator("#pop-bookings").inner_text()

    page.select_option("#category", "roads")
    page.fill("#subject", "家の前の街灯が消えている")
    with page.expect_navigation():  # read the answer page, not the one before it
        page.click("#inquiry-save")
    logged = page.locator(".flash-success").inner_text()
    with committed_db() as session:
        inquiry = session.scalar(select(Inquiry).where(Inquiry.category == "roads"))
        assert inquiry.resident_id == city["resident_id"]
    assert inquiry.reference in logged
    screenshot(page, "work-booked")

    page.wait_for_selector("#end-call")
    page.keyboard.press("e")  # the shortcut for "End call"
    page.wait_for_selector("#wrap-up:not([hidden])", timeout=30_000)
    page.wait_for_selector("#own-state.state-wrap_up", timeout=30_000)
    page.select_option("#disposition", "booked")
    page.fill("#wrap-notes", "予約と街灯の件を受付")
    screenshot(page, "work-wrap-up")
    with page.expect_navigation():
        page.click("#wrap-available")
    assert "後処理を保存しました" in page.locator(".flash-success").first.inner_text()

    thread.join(timeout=CALL_SECONDS)
    assert not thread.is_alive(), "the simulated call did not end"
    heard = [event.text for event in outcome["caller"].heard]
    assert "the operator ended the call" in heard
    with committed_db() as session:
        call = session.scalar(select(Call).where(
            blind.matches(Call.from_digest, "phone", CALLER_NUMBER)))
        assert (call.operator_id, call.disposition, call.wrap_notes) == (
            city["operator_id"], "booked", "予約と街灯の件を受付")
        assert call.wrapped_at is not None
        assert session.get(Operator, city["operator_id"]).state in ("available", "on_call")
        actions = set(session.scalars(select(AuditEntry.action).where(
            AuditEntry.resident_id == city["resident_id"], AuditEntry.actor == "yamada")))
        assert {"view", "book_refused", "book", "create"} <= actions


def _holding(session, network: SimulatedNetwork, number: str, minutes: float) -> Call:
    call = Call(call_sid=new_sid("CA"), from_e164=number, language="ja", outcome="queued",
                queued_at=utcnow() - timedelta(minutes=minutes), path=[
                    {"at": "2026-01-01T00:00:00", "node": "incoming"},
                    {"at": "2026-01-01T00:00:04", "node": "person"}])
    session.add(call)
    session.commit()
    network.save_call(SimulatedCall(sid=call.call_sid, direction="inbound", from_number=number,
                                    to_number=CITY_NUMBER, status="in-progress"))
    return call


def test_a_supervisor_sees_the_line_and_takes_a_later_caller_out_of_order(
        page, city, committed_db, redis_client, screenshot):  # noqa: F811
    network = SimulatedNetwork(redis_client)
    with committed_db() as session:
        accounts.create_operator(session, username="suzuki", display_name="鈴木 SV",
                                 password=PASSWORD, role="supervisor")
        first = _holding(session, network, "+819087650001", minutes=7)
        chosen = _holding(session, network, CALLER_NUMBER, minutes=2)
        session.add(CallbackRequest(
            phone_e164="+819087650002", language="ja", status="waiting", attempts=1,
            arrival_at=utcnow() - timedelta(hours=2), window_start=utcnow() - timedelta(hours=2),
            window_end=utcnow() - timedelta(minutes=30)))
        session.commit()
    log_in(page, "suzuki", lands_on=LANDING)
    page.goto("/console/work")
    holders = page.locator("#holders-list").inner_text()
    assert "佐藤 花子" in holders and "住民不明" in holders and "+819087650001" not in holders
    assert page.locator("#callbacks-list tr.overdue").count() == 1
    screenshot(page, "work-supervisor")

    page.click(f"tr[data-call='{chosen.id}'] button")
    # Taking the caller opens their record at once.
    page.wait_for_url(re.compile(r"/console/work\?resident=\d+$"))
    assert "佐藤 花子" in page.locator("main").inner_text()
    control = network.take_control(chosen.call_sid)
    assert control is not None and control.url.endswith(f"/voice/queue/bridge?call={chosen.id}")
    assert network.take_control(first.call_sid) is None
    with committed_db() as session:
        assert session.get(Call, chosen.id).operator_id != session.get(Call, first.id).operator_id
        assert session.get(Call, first.id).operator_id is None
