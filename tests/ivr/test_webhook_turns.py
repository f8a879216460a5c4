"""A web process works on a few webhooks at a time; the rest wait their turn, never refused.

A turn is for working: a webhook waiting on Twilio's API or on another writer of the SQLite
file lets the next webhook in meanwhile.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
from sqlalchemy import text
from twilio.http import HttpClient
from twilio.http.response import Response

from madoguchi.db import make_engine
from madoguchi.fair_turns import FairTurns
from madoguchi.sqlite_turn import WriterTurn
from madoguchi.telephony.twilio_adapter import TwilioTelephony
from madoguchi.voice import webhook_turns
from tests.ivr.conftest import Caller


@pytest.fixture
def one_at_a_time(monkeypatch):
    """This process's webhooks one at a time (made again with the patched count)."""
    monkeypatch.setattr(webhook_turns, "WEBHOOKS_AT_ONCE", 1)
    monkeypatch.setattr(webhook_turns, "_turns", None)
    turns = webhook_turns.process_turns()
    yield turns
    monkeypatch.setattr(webhook_turns, "_turns", None)


def _until_waiting(turns: FairTurns, count: int) -> None:
    deadline = time.monotonic() + 30
    while turns.waiting < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert turns.waiting == count


def _in_a_thread(work) -> threading.Thread:
    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_a_webhook_waits_while_the_process_is_at_its_limit_and_is_answered_in_its_turn(
        client, one_at_a_time):
    assert one_at_a_time.acquire(timeout=1)  # another webhook is being worked on
    statuses: list[int] = []
    thread = _in_a_thread(lambda: statuses.append(Caller(client).dial().status))
    _until_waiting(one_at_a_time, 1)
    assert statuses == []  # waiting its turn, not refused
    one_at_a_time.release()
    thread.join(30)
    assert statuses == [200]
    assert one_at_a_time.acquire(timeout=0)  # it gave its turn back


def test_a_webhook_that_waited_too_long_goes_on_without_a_turn_and_says_so_in_the_log(
        client, one_at_a_time, monkeypatch, caplog):
    monkeypatch.setattr(webhook_turns, "WAIT_SECONDS", 0.2)
    monkeypatch.setattr(webhook_turns, "_warned_at", float("-inf"))
    assert one_at_a_time.acquire(timeout=1)
    statuses: list[int] = []
    with caplog.at_level(logging.WARNING, logger=webhook_turns.__name__):
        _in_a_thread(lambda: statuses.append(Caller(client).dial().status)).join(30)
    assert statuses == [200]  # the caller is answered all the same
    assert "went on without one" in caplog.text
    one_at_a_time.release()  # the one it did not have is not let go twice
    assert one_at_a_time.acquire(timeout=0)


def test_a_forged_request_is_refused_at_once_without_waiting_for_a_turn(client, one_at_a_time):
    assert one_at_a_time.acquire(timeout=1)  # the process is at its limit
    started = time.monotonic()
    response = client.post("/voice/incoming", data={"CallSid": "CA" + "2" * 32})
    assert response.status_code == 403
    assert time.monotonic() - started < webhook_turns.WAIT_SECONDS / 2
    assert one_at_a_time.waiting == 0


def test_a_webhook_already_in_its_turn_goes_on_when_it_asks_again(one_at_a_time):
    started = time.monotonic()
    with webhook_turns.webhook_turn(), webhook_turns.webhook_turn():
        # The same thread did not queue behind itself until the wait ran out.
        assert time.monotonic() - started < webhook_turns.WAIT_SECONDS / 2
    assert one_at_a_time.acquire(timeout=0)


class _SlowTwilio(HttpClient):
    """Twilio's API, answering only once the test lets it."""

    def __init__(self) -> None:
        super().__init__(logging.getLogger("test"), is_async=False)
        self.asked, self.may_answer = threading.Event(), threading.Event()

    def request(self, method, uri, params=None, data=None, headers=None, auth=None,
                timeout=None, allow_redirects=False):
        self.asked.set()
        assert self.may_answer.wait(30)
        return Response(201, json.dumps({"sid": "SM" + "c" * 32}))


def test_a_webhook_waiting_on_twilio_lets_the_next_one_in_and_then_takes_a_turn_again(
        one_at_a_time):
    twilio = _SlowTwilio()
    telephony = TwilioTelephony("AC" + "a" * 32, "token", "+81312345678", http_client=twilio)
    sent, may_finish = threading.Event(), threading.Event()

    def webhook_sending_an_sms() -> None:
        with webhook_turns.webhook_turn():
            telephony.send_sms("+819012345678", "予約番号 1234567")
            sent.set()
            assert may_finish.wait(30)

    thread = _in_a_thread(webhook_sending_an_sms)
    assert twilio.asked.wait(30)
    assert one_at_a_time.acquire(timeout=5)  # its turn went to the next webhook
    one_at_a_time.release()
    twilio.may_answer.set()
    assert sent.wait(30)
    assert not one_at_a_time.acquire(timeout=0.2)  # it works in a turn again
    may_finish.set()
    thread.join(30)
    assert one_at_a_time.acquire(timeout=0)


def test_a_webhook_waiting_for_another_writer_lets_the_next_one_in(one_at_a_time, tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counters (n INTEGER NOT NULL)"))
    another_process = WriterTurn((tmp_path / "turns.db").resolve())  # its own file lock
    assert another_process.acquire(timeout=1)
    wrote, may_finish = threading.Event(), threading.Event()

    def webhook_that_writes() -> None:
        with webhook_turns.webhook_turn():
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO counters (n) VALUES (1)"))
            wrote.set()
            assert may_finish.wait(30)

    thread = _in_a_thread(webhook_that_writes)
    try:
        assert one_at_a_time.acquire(timeout=5)  # let in while the writer waits
        one_at_a_time.release()
        assert not wrote.is_set()
    finally:
        another_process.release()
    assert wrote.wait(30)
    # Back from holding the writers' turn, it went on without a webhook's turn.
    assert one_at_a_time.acquire(timeout=1)
    one_at_a_time.release()
    may_finish.set()
    thread.join(30)
    assert one_at_a_time.acquire(timeout=0)  # nothing let go that it did not hold
    engine.dispose()
