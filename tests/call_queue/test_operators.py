"""Operator states on Redis: who is free, in what order, and wrap-up that ends by itself."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from call_queue.operators import OperatorBoard, OperatorState

T0 = datetime(2026, 11, 24, 0, 0, tzinfo=UTC)


@pytest.fixture
def board(redis_client):
    return OperatorBoard(redis_client, prefix="test:ops")


def test_the_operator_free_longest_takes_the_next_caller(board):
    board.set_state(1, "available", T0 + timedelta(seconds=30))
    board.set_state(2, "available", T0)
    board.set_state(3, "away", T0)
    assert board.available_ids(T0 + timedelta(minutes=1)) == [2, 1]
    assert board.claim_next_available(T0 + timedelta(minutes=1)) == 2
    assert board.get(2).state == "on_call"
    assert board.available_ids(T0 + timedelta(minutes=1)) == [1]


def test_nobody_available_claims_nobody(board):
    board.set_state(1, "on_call", T0)
    assert board.claim_next_available(T0) is None


def test_wrap_up_ends_by_itself_and_counts_as_free_from_its_end(board):
    board.set_state(1, "wrap_up", T0, until=T0 + timedelta(seconds=60))
    board.set_state(2, "available", T0 + timedelta(seconds=30))
    assert board.available_ids(T0 + timedelta(seconds=59)) == [2]
    assert board.available_ids(T0 + timedelta(seconds=61)) == [2, 1]
    assert board.get(1).state == "available"
    assert board.get(1).since == T0 + timedelta(seconds=60)


def test_two_processes_never_claim_the_same_operator(board, redis_client):
    for operator_id in range(1, 6):
        board.set_state(operator_id, "available", T0 + timedelta(seconds=operator_id))
    claimed: list[int | None] = []
    lock = threading.Lock()

    def claim() -> None:
        other = OperatorBoard(redis_client, prefix="test:ops")
        got = other.claim_next_available(T0 + timedelta(minutes=5))
        with lock:
            claimed.append(got)

    threads = [threading.Thread(target=claim) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    taken = [c for c in claimed if c is not None]
    assert sorted(taken) == [1, 2, 3, 4, 5]
    assert claimed.count(None) == 15


def test_counts_and_operators_on_duty(board):
    board.set_state(1, "available", T0)
    board.set_state(2, "on_call", T0)
    board.set_state(3, "wrap_up", T0, until=T0 + timedelta(minutes=1))
    board.set_state(4, "away", T0)
    board.set_state(5, "offline", T0)
    counts = board.counts(T0)
    assert counts == {"offline": 1, "available": 1, "on_call": 1, "wrap_up": 1, "away": 1}
    assert board.on_duty(T0) == 3


def test_the_board_is_rebuilt_from_database_states_after_redis_lost_it(board, redis_client):
    board.set_state(1, "available", T0)
    redis_client.flushdb()
    assert board.is_empty()
    board.rebuild([OperatorState(1, "available", T0), OperatorState(2, "on_call", T0)])
    assert board.available_ids(T0) == [1]
    assert board.get(2).state == "on_call"


def test_an_unknown_state_or_a_wrap_up_without_end_is_refused(board):
    with pytest.raises(ValueError, match="unknown operator state"):
        board.set_state(1, "sleeping", T0)
    with pytest.raises(ValueError, match="wrap-up"):
        board.set_state(1, "wrap_up", T0)
