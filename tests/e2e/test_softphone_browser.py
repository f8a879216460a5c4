"""The browser phone in Chromium: the vendored SDK loads, a token is fetched, and with no way to
reach Twilio (none from here) the operator reads a clear error instead of a silent "ready"."""

from __future__ import annotations

import pytest

from agent_console.services import accounts
from tests.agent_console.test_voice_token import SOFTPHONE_ENV
from tests.e2e.conftest import PASSWORD, log_in, serving


@pytest.fixture
def softphone_server(base_env, engine):
    """A server process whose city has Twilio and the browser softphone configured."""
    with serving(base_env, SOFTPHONE_ENV) as address:
        yield address


@pytest.fixture
def operator_id(committed_db) -> int:
    """An operator who takes calls in the browser."""
    with committed_db() as session:
        return accounts.create_operator(session, username="suzuki", display_name="鈴木",
                                        password=PASSWORD, role="operator").id


def test_the_softphone_loads_the_vendored_sdk_fetches_a_token_and_says_why_it_cannot_ring(
        browser, softphone_server, operator_id):
    context = browser.new_context(base_url=softphone_server, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(10_000)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    console_lines: list[str] = []
    page.on("console", lambda line: console_lines.append(line.text))
    log_in(page, "suzuki", lands_on="**/console/work")

    page.goto("/console/me")
    softphone = page.locator("#softphone")
    assert page.evaluate("typeof window.Twilio.Device") == "function"
    page.wait_for_selector(f'#softphone[data-identity="operator-{operator_id}"]')
    page.wait_for_selector('#softphone[data-state="error"]', timeout=40_000)
    status = softphone.locator("[data-softphone-status]").inner_text()
    assert status.startswith("ブラウザ電話が使えません:Twilio に接続できません。"), status
    assert "待ち受け中" not in status
    assert page.locator("[data-softphone-retry]").is_visible()
    assert page.locator("[data-softphone-ringing]").is_hidden()
    assert f"{softphone_server}/console/static/vendor/twilio-voice/twilio.min.js" in requested
    assert f"{softphone_server}/console/voice/token" in requested
    # Scripts and sounds come from our own server only; Twilio is reached for signalling.
    outside = [url for url in requested if not url.startswith(softphone_server)]
    assert all(".twilio.com" in url for url in outside), outside
    assert not [line for line in console_lines if "Content Security Policy" in line]
    context.close()
