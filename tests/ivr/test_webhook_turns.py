"""A web process works on a few webhooks at a time; the rest wait their turn, never refused."""

from __future__ import annotations

import logging
import threading
import time

import pytest

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


def _dial_in_a_thread(client) -> tuple[threading.Thread, list[int]]:
    statuses: list[int] = []
    thread = threading.Thread(target=lambda: statuses.append(Caller(client).dial().status))
    thread.start()
    return thread, statuses


def test_a_webhook_waits_while_the_process_is_at_its_limit_and_is_answered_in_its_turn(
        client, one_at_a_time):
    assert one_at_a_time.acquire(timeout=1)  # another webhook is being worked on
    thread, statuses = _dial_in_a_thread(client)
    thread.join(0.5)
    assert thread.is_alive() and statuses == []  # waiting its turn, not refused
    assert one_at_a_time.waiting == 1
    one_at_a_time.release()
    thread.join(30)
    assert statuses == [200]
    assert one_at_a_time.acquire(timeout=0)  # it gave its turn back


def test_a_webhook_that_waited_too_long_goes_on_without_a_turn_and_says_so_in_the_log(
        client, one_at_a_time, monkeypatch, caplog):
    monkeypatch.setattr(webhook_turns, "WAIT_SECONDS", 0.2)
    monkeypatch.setattr(webhook_turns, "_warned_at", float("-inf"))
    assert one_at_a_time.acquire(timeout=1)
    with caplog.at_level(logging.WARNING, logger=webhook_turns.__name__):
        thread, statuses = _dial_in_a_thread(client)
        thread.join(30)
    assert statuses == [200]  # the caller is answered all the same
    assert "went on without one" in caplog.text
    one_at_a_time.release()  # the one it did not have is not let go twice
    assert one_at_a_time.acquire(timeout=0)


def test_a_refused_request_gives_its_turn_back(client, one_at_a_time):
    response = client.post("/voice/incoming", data={"CallSid": "CA" + "2" * 32})
    assert response.status_code == 403
    assert one_at_a_time.acquire(timeout=0)


def test_a_webhook_already_in_its_turn_goes_on_when_it_asks_again(one_at_a_time):
    started = time.monotonic()
    with webhook_turns.webhook_turn(), webhook_turns.webhook_turn():
        # The same thread did not queue behind itself until the wait ran out.
        assert time.monotonic() - started < webhook_turns.WAIT_SECONDS / 2
    assert one_at_a_time.acquire(timeout=0)
