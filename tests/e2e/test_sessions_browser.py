"""Logging out ends the session on the server: the back button, a second tab, a saved cookie."""

from __future__ import annotations

import pytest

from agent_console.services import accounts
from tests.e2e.conftest import PASSWORD, log_in

LOGOUT = "form[action='/console/logout'] button"


@pytest.fixture
def supervisor(committed_db):
    """A supervisor who can open the residents page and the exports."""
    with committed_db() as session:
        accounts.create_operator(session, username="suzuki", display_name="鈴木 監督",
                                 password=PASSWORD, role="supervisor")
    return "suzuki"


def on_login_page(tab) -> bool:
    """True when the tab shows the login form."""
    return "/console/login" in tab.url and tab.locator("#password").count() == 1


def test_after_logout_the_back_button_shows_the_login_page_not_the_record(page, supervisor):
    log_in(page, supervisor)
    page.goto("/console/residents")
    page.click(LOGOUT)
    page.wait_for_url("**/console/login**")
    page.go_back()
    page.wait_for_load_state()
    assert on_login_page(page), page.url
    assert page.locator("#resident-search, form[action='/console/residents']").count() == 0


def test_a_second_tab_is_logged_out_with_the_first(page, supervisor):
    log_in(page, supervisor)
    second = page.context.new_page()
    second.goto("/console/residents")
    assert "/console/residents" in second.url
    page.click(LOGOUT)
    page.wait_for_url("**/console/login**")
    second.reload()
    assert on_login_page(second), second.url
    second.close()


def test_a_cookie_copied_before_logout_opens_nothing_in_another_browser(page, browser,
                                                                         live_server,
                                                                         supervisor):
    log_in(page, supervisor)
    copied = [cookie for cookie in page.context.cookies() if cookie["name"] == "session"]
    assert copied
    page.click(LOGOUT)
    page.wait_for_url("**/console/login**")
    elsewhere = browser.new_context(base_url=live_server)
    try:
        elsewhere.add_cookies(copied)
        tab = elsewhere.new_page()
        tab.goto("/console/residents")
        assert on_login_page(tab), tab.url
        export = elsewhere.request.get("/console/reports/export.csv?kind=calls",
                                       max_redirects=0)
        assert export.status == 302
        assert "/console/login" in export.headers["location"]
    finally:
        elsewhere.close()
