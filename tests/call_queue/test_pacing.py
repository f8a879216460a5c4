"""Outbound pacing: calls start at most the configured number a second, across all workers."""

from __future__ import annotations

import time

import pytest

from call_queue.pacing import JITTER_MARGIN, OutboundPacer


class StoppedClock:
    """A clock that only moves when a pacer sleeps (so the test measures spacing exactly)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_two_workers_sharing_redis_space_their_calls_one_interval_apart(redis_client):
    clock = StoppedClock(1_800_000_000.0)
    workers = [OutboundPacer(redis_client, 2.0, key="test:pacing", clock=clock,
                             sleep=clock.sleep) for _ in range(2)]
    starts = [workers[n % 2].reserve() for n in range(5)]
    assert [round(s - starts[0], 3) for s in starts] == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_a_quiet_line_dials_at_once(redis_client):
    clock = StoppedClock(1_800_000_000.0)
    pacer = OutboundPacer(redis_client, 1.0, key="test:pacing", clock=clock, sleep=clock.sleep)
    assert pacer.wait_turn() == 0
    clock.now += 5  # long after the last call
    assert pacer.wait_turn() == 0
    assert pacer.wait_turn() == pytest.approx(1.0 * (1 + JITTER_MARGIN))


def test_a_worker_that_woke_late_pushes_the_next_dial_back_so_the_gap_still_holds(redis_client):
    clock = StoppedClock(1_800_000_000.0)
    late, on_time = (OutboundPacer(redis_client, 1.0, key="test:pacing", clock=clock,
                                   sleep=clock.sleep) for _ in range(2))
    first_turn = late.reserve()
    second_turn = on_time.reserve()
    clock.now = first_turn + 0.9  # the first worker was busy and dials 0.9 s after its turn
    assert late.claim() == 0
    first_dial = clock.now
    clock.now = second_turn  # the second worker is exactly on time
    on_time.sleep(max(second_turn - clock.now, 0))
    while (delay := on_time.claim()) > 0:
        clock.sleep(delay)
    assert clock.now - first_dial >= 1.0


def test_the_limit_holds_in_real_time(redis_client):
    pacer = OutboundPacer(redis_client, 10.0, key="test:pacing")
    started = time.monotonic()
    for _ in range(4):
        pacer.wait_turn()
    assert time.monotonic() - started >= 0.29  # 4 calls at 10 a second: 3 intervals


def test_a_rate_that_is_not_positive_is_refused_with_a_hint(redis_client):
    with pytest.raises(ValueError, match="positive"):
        OutboundPacer(redis_client, 0)
