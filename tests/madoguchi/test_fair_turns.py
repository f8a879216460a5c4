"""Turns handed out in the order they were asked for, one or a few holders at a time."""

from __future__ import annotations

import threading
import time

import pytest

from madoguchi.fair_turns import FairTurns


def _until_waiting(turns: FairTurns, count: int) -> None:
    deadline = time.monotonic() + 30
    while turns.waiting < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert turns.waiting == count


def test_as_many_as_allowed_hold_a_turn_at_once_and_the_next_waits_for_one_to_let_go():
    turns = FairTurns(at_once=2)
    assert turns.acquire(timeout=1) and turns.acquire(timeout=1)
    started = time.monotonic()
    assert not turns.acquire(timeout=0.2)  # a third waits, and gives up after its timeout
    assert time.monotonic() - started >= 0.2
    turns.release()
    assert turns.acquire(timeout=1)  # the turn let go is free again


def test_those_waiting_are_let_in_in_the_order_they_came():
    turns = FairTurns(at_once=2)
    assert turns.acquire(timeout=1) and turns.acquire(timeout=1)
    order: list[int] = []

    def waiter(number: int) -> None:
        assert turns.acquire(timeout=30)
        order.append(number)
        turns.release()

    threads = [threading.Thread(target=waiter, args=(number,)) for number in range(5)]
    for number, thread in enumerate(threads):
        thread.start()
        _until_waiting(turns, number + 1)  # each asks after the one before
    turns.release()  # one turn comes free: each waiter in order takes it and passes it on
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3, 4]
    turns.release()
    assert turns.acquire(timeout=1) and turns.acquire(timeout=1)  # both free again


def test_a_holder_who_lets_go_and_asks_again_at_once_goes_behind_the_one_waiting():
    # A plain semaphore lets the thread that let go take its turn straight back.
    turns = FairTurns(at_once=2)
    assert turns.acquire(timeout=1) and turns.acquire(timeout=1)
    let_in = threading.Event()

    def waiter() -> None:
        assert turns.acquire(timeout=30)
        let_in.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    _until_waiting(turns, 1)
    turns.release()
    assert not turns.acquire(timeout=0)  # the turn went to the one waiting
    thread.join(30)
    assert let_in.is_set()


def test_a_waiter_who_gave_up_is_never_handed_a_turn():
    turns = FairTurns(at_once=1)
    assert turns.acquire(timeout=1)
    assert not turns.acquire(timeout=0.1)
    assert turns.waiting == 0
    turns.release()
    started = time.monotonic()
    assert turns.acquire(timeout=5)  # free at once: not kept for the one who left
    assert time.monotonic() - started < 1.0


def test_letting_go_of_a_turn_nobody_holds_is_a_bug_said_at_once():
    turns = FairTurns(at_once=2)
    assert turns.acquire(timeout=1)
    turns.release()
    with pytest.raises(RuntimeError):
        turns.release()


def test_turns_for_none_at_a_time_are_refused():
    with pytest.raises(ValueError, match="at_once"):
        FairTurns(at_once=0)
