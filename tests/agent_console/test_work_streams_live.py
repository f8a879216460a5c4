"""Open work screens hold web threads with their event streams; the line's webhooks still answer.

Against a real waitress process (tests.madoguchi.telephony.live_server): ten logged-in tabs keep
their streams open while a caller's webhook comes in.
"""

from __future__ import annotations

import re
import threading

import requests
from twilio.request_validator import RequestValidator

from agent_console.services import accounts
from tests.conftest import TEST_AUTH_TOKEN
from tests.madoguchi.telephony.live_server import live_server  # noqa: F401 (the fixture)

OPEN_TABS = 10
PASSWORD = "correct-horse-battery"
_TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _logged_in(base_url: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base_url}/console/login", timeout=10).text
    token = _TOKEN.search(page).group(1)
    answer = browser.post(f"{base_url}/console/login", timeout=10, allow_redirects=False,
                          data={"username": "tab-user", "password": PASSWORD,
                                "csrf_token": token})
    assert answer.status_code == 302, answer.text[:300]
    return browser


def test_ten_open_work_screens_do_not_keep_a_caller_waiting_for_a_thread(
        live_server, committed_db):  # noqa: F811 (the fixture)
    with committed_db() as session:
        accounts.create_operator(session, username="tab-user", display_name="タブ 多数",
                                 password=PASSWORD, role="operator")
    browser = _logged_in(live_server.base_url)
    streams, first_events = [], threading.Semaphore(0)

    def open_tab() -> None:
        response = browser.get(f"{live_server.base_url}/console/work/stream", stream=True,
                               timeout=70)
        streams.append(response)
        for line in response.iter_lines():
            if line.startswith(b"event: snapshot"):
                first_events.release()
                return

    tabs = [threading.Thread(target=open_tab, daemon=True) for _ in range(OPEN_TABS)]
    for tab in tabs:
        tab.start()
    try:
        for _ in range(OPEN_TABS):
            assert first_events.acquire(timeout=30), "a work screen's stream did not start"
        url = live_server.url("/voice/incoming")
        fields = {"CallSid": "CA" + "0" * 32, "From": "+819012340000", "To": "+81312345678",
                  "CallStatus": "ringing", "Direction": "inbound"}
        signature = RequestValidator(TEST_AUTH_TOKEN).compute_signature(url, fields)
        # Well inside a stream's lifetime: the webhook is not queued behind the open tabs.
        answer = requests.post(url, data=fields, timeout=10,
                               headers={"X-Twilio-Signature": signature})
        assert answer.status_code == 200 and "<Response>" in answer.text
    finally:
        for response in streams:
            response.close()
