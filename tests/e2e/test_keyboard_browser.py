"""The work screen by keyboard alone: a caller taken, a slot booked, the call wrapped up, no mouse.

Every control is reached with Tab and shows where focus is; the one-key shortcuts act only when
no field is being typed in; a caller put through moves focus to their record and is announced,
unless the operator is typing, whose field then keeps focus and text. The caller is played by
the simulator's engine over HTTP against the same server process as the browser.
"""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from agent_console.services import accounts
from call_queue import line_services, operator_states
from madoguchi.events import notify_line_changed
from madoguchi.models import Booking, Call, utcnow
from madoguchi.sealing import blind
from madoguchi.telephony.network import new_sid
from tests.e2e.conftest import PASSWORD
from tests.e2e.test_console_browser import LANDING, city  # noqa: F401 (city is a fixture)
from tests.e2e.test_work_browser import CALL_SECONDS, CALLER_NUMBER, _call_in_background

# The focused element, how it shows its focus, and whether it is on screen.
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    id: el.id, tag: el.tagName, key: el.dataset.key || "", slot: el.dataset.slot || "",
    text: (el.innerText || el.value || "").trim().slice(0, 40),
    ring: style.outlineStyle !== "none" || style.boxShadow !== "none",
    seen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight,
  };
}"""


def _tab_to(page, selector: str, *, limit: int = 80) -> list[dict]:
    """Press Tab until the selector has focus; every stop on the way must show its focus."""
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stop = page.evaluate(FOCUSED)
        if stop["tag"] != "BODY":
            assert stop["ring"] and stop["seen"], f"focus not visible on {stop}"
        stops.append(stop)
        if page.evaluate("(selector) => document.activeElement.matches(selector)", selector):
            return stops
    raise AssertionError(f"{selector} not reached in {limit} Tabs: {stops}")


def _type_date(page, selector: str, iso: str) -> None:
    """Type a date into a focused date field, whichever order the browser's own locale shows."""
    year, month, day = iso.split("-")
    # A year may take more than four digits, so the arrow moves on from it by hand.
    for order in ([year, "ArrowRight", month, day], [month, day, year], [day, month, year]):
        for part in order:
            page.keyboard.press(part) if part == "ArrowRight" else page.keyboard.type(part)
        if page.input_value(selector) == iso:
            return
        for _ in range(3):  # back to the field's first part
            page.keyboard.press("ArrowLeft")
    raise AssertionError(f"could not type {iso} into {selector}: {page.input_value(selector)}")


def _log_in_by_keyboard(page, username: str) -> None:
    page.goto("/console/login")
    if page.evaluate("document.activeElement.id") != "username":  # autofocused or not
        _tab_to(page, "#username")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(LANDING)


def _someone_busy_so_callers_hold(app, committed_db) -> None:
    with committed_db() as session:
        busy = accounts.create_operator(session, username="sato", display_name="佐藤 オペ",
                                        password=PASSWORD, role="operator")
    with app.app_context(), committed_db() as session:
        operator_states.set_state(session, line_services.board(), busy.id, "on_call", utcnow())


def test_take_next_book_and_wrap_up_with_the_keyboard_alone(
        page, city, app, live_server, committed_db, redis_client):  # noqa: F811
    _someone_busy_so_callers_hold(app, committed_db)
    _log_in_by_keyboard(page, "yamada")
    thread, _ = _call_in_background(live_server, redis_client)
    page.wait_for_selector("#holders-list tbody tr", timeout=30_000)

    # Take next: the caller's record opens with focus on it, and a screen reader hears so.
    _tab_to(page, "#take-next")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/console/work\?resident=\d+$"))
    page.wait_for_function("() => document.activeElement.closest('#pop-resident') !== null")
    assert page.evaluate("document.activeElement.tagName") == "H3"
    page.wait_for_function(
        "() => document.getElementById('work-announce').textContent.includes('佐藤 花子')")
    page.wait_for_selector("#connected-call.live", timeout=30_000)

    # Book: the day typed into the date field, the search sent with Enter, a slot's button.
    _tab_to(page, "#day")
    _type_date(page, "#day", city["day"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    first_slot = city["slot_ids"][0]
    _tab_to(page, f"button[data-slot='{first_slot}']")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    booked = page.locator(".flash-success").inner_text()
    with committed_db() as session:
        made = session.scalar(select(Booking).where(Booking.resident_id == city["resident_id"]))
    assert made.slot_id == first_slot and made.reference in booked

    # End the call (e), choose the disposition (d, arrows), write notes in which the letters of
    # the shortcuts a and b are only text, then save and go available with Enter.
    page.keyboard.press("e")
    page.wait_for_selector("#wrap-up:not([hidden])", timeout=30_000)
    page.keyboard.press("d")
    assert page.evaluate("document.activeElement.id") == "disposition"
    page.keyboard.press("ArrowDown")
    assert page.input_value("#disposition") != ""
    disposition = page.input_value("#disposition")
    _tab_to(page, "#wrap-notes")
    page.keyboard.type("a booked slot, a call back not needed")
    assert page.locator("#wrap-up:not([hidden])").count() == 1
    assert page.input_value("#wrap-notes") == "a booked slot, a call back not needed"
    _tab_to(page, "#wrap-available")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "後処理を保存しました" in page.locator(".flash-success").first.inner_text()

    thread.join(timeout=CALL_SECONDS)
    assert not thread.is_alive(), "the simulated call did not end"
    with committed_db() as session:
        call = session.scalar(select(Call).where(
            blind.matches(Call.from_digest, "phone", CALLER_NUMBER)))
        assert (call.operator_id, call.disposition, call.wrap_notes) == (
            city["operator_id"], disposition, "a booked slot, a call back not needed")


def test_every_control_of_the_work_screen_is_reached_by_tab_in_reading_order(
        page, city, app, committed_db):  # noqa: F811
    _someone_busy_so_callers_hold(app, committed_db)
    _log_in_by_keyboard(page, "yamada")
    page.goto(f"/console/work?resident={city['resident_id']}&day={city['day']}")
    page.wait_for_selector("#pop-slot-list")
    page.evaluate("document.activeElement.blur()")
    # From the top of the page round to the top again: every stop on the way.
    stops = _tab_to(page, "#take-next") + _tab_to(page, ".skip-link", limit=200)
    reached = [stop["id"] or stop["key"] or stop["slot"] or stop["text"] for stop in stops]
    controls = page.evaluate("""() => [...document.querySelectorAll(
        '#work a[href], #work button, #work input:not([type=hidden]), #work select, '
        + '#work textarea')]
        .filter((el) => el.offsetParent !== null && !el.disabled
                        && (el.type !== 'radio' || el.checked))  // a radio group: one Tab stop
        .map((el) => el.id || el.dataset.key || el.dataset.slot
                     || (el.innerText || el.value || '').trim().slice(0, 40))""")
    missing = [control for control in controls if control not in reached]
    assert not missing, f"not reached by Tab: {missing}"
    order = [reached.index(name) for name in ("take-next", "work-q", "day", "slot-search")]
    assert order == sorted(order), reached


def test_a_caller_put_through_while_typing_waits_for_the_operator_instead_of_taking_focus(
        page, city, live_server, committed_db, redis_client):  # noqa: F811
    _log_in_by_keyboard(page, "yamada")
    page.keyboard.press("a")  # available: the next caller comes straight to this operator
    page.wait_for_selector("#own-state.state-available")
    _tab_to(page, "#work-q")
    page.keyboard.type("tea")  # t, e and a are shortcuts elsewhere; here they are text
    thread, _ = _call_in_background(live_server, redis_client)
    page.wait_for_selector("#pop-pending:not([hidden])", timeout=30_000)
    page.wait_for_function(
        "() => document.getElementById('work-announce').textContent.includes('佐藤 花子')")
    assert page.evaluate("document.activeElement.id") == "work-q"
    assert page.input_value("#work-q") == "tea" and "resident=" not in page.url

    # Leaving the field and pressing p opens the record, focused.
    page.keyboard.press("Shift+Tab")
    with page.expect_navigation():
        page.keyboard.press("p")
    page.wait_for_function("() => document.activeElement.closest('#pop-resident') !== null")
    page.wait_for_selector("#end-call", timeout=30_000)
    page.keyboard.press("e")
    page.wait_for_selector("#wrap-up:not([hidden])", timeout=30_000)
    thread.join(timeout=CALL_SECONDS)
    assert not thread.is_alive(), "the simulated call did not end"


def test_a_live_update_of_the_line_leaves_focus_where_the_keyboard_left_it(
        page, committed_db, redis_client):
    with committed_db() as session:
        accounts.create_operator(session, username="suzuki", display_name="鈴木 SV",
                                 password=PASSWORD, role="supervisor")
        first = _holding(session, "+819087650001", minutes=5)
    _log_in_by_keyboard(page, "suzuki")
    _tab_to(page, f"tr[data-call='{first.id}'] button")
    with committed_db() as session:
        later = _holding(session, "+819087650002", minutes=1)
    notify_line_changed(redis_client)
    page.wait_for_selector(f"#holders-list tr[data-call='{later.id}']")
    assert page.evaluate("document.activeElement.closest('tr').dataset.call") == str(first.id)
    assert page.evaluate(FOCUSED)["ring"]


def _holding(session, number: str, minutes: float) -> Call:
    call = Call(call_sid=new_sid("CA"), from_e164=number, language="ja", outcome="queued",
                queued_at=utcnow() - timedelta(minutes=minutes),
                path=[{"at": "2026-01-01T00:00:00", "node": "incoming"}])
    session.add(call)
    session.commit()
    return call


# Every key that, outside a field, moves to another page or the search box.
NAVIGATION_KEYS = "wrinfl?"


def test_the_page_shortcuts_are_plain_text_in_every_field(page, city):  # noqa: F811
    _log_in_by_keyboard(page, "yamada")
    for path in ("/console/residents", "/console/inquiries/new", "/console/me"):
        page.goto(path)
        fields = page.locator("input[type=search], input[type=text], input:not([type]), "
                              "input[type=tel], textarea")
        assert fields.count() > 0, path
        for index in range(fields.count()):
            field = fields.nth(index)
            if not field.is_visible() or not field.is_editable():
                continue
            field.fill("")
            field.focus()
            page.keyboard.type(f"a{NAVIGATION_KEYS}/")  # "/" after text is text too
            assert page.url.endswith(path), f"a key typed in a field on {path} left the page"
            assert field.input_value() == f"a{NAVIGATION_KEYS}/", path
