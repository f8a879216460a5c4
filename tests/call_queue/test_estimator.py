"""The wait estimate: exact for M/M/s, allowing for callers who give up, said as a range."""

from __future__ import annotations

import math
import random

import pytest

from call_queue import estimator


def _simulated_wait(ahead: int, operators: int, handle: float, patience: float | None,
                    rng: random.Random) -> float:
    """Wait of a caller with `ahead` before them, all operators busy, memoryless times."""
    clock = 0.0
    waiting_ahead = ahead
    while True:
        service_rate = operators / handle
        abandon_rate = 0.0 if patience is None else waiting_ahead / patience
        clock += rng.expovariate(service_rate + abandon_rate)
        if rng.random() < service_rate / (service_rate + abandon_rate):
            if waiting_ahead == 0:
                return clock
            waiting_ahead -= 1  # the first in line reached an operator
        else:
            waiting_ahead -= 1  # someone ahead gave up


@pytest.mark.parametrize(("ahead", "operators"), [(0, 1), (4, 1), (9, 5), (30, 20)])
def test_without_abandonment_the_wait_is_gamma_n_plus_one_s_mu(ahead, operators):
    handle = 240.0
    mean, sd = estimator.expected_wait(ahead, operators, handle)
    rate = operators / handle
    assert mean == pytest.approx((ahead + 1) / rate)
    assert sd == pytest.approx(math.sqrt(ahead + 1) / rate)


@pytest.mark.parametrize(("ahead", "operators", "patience"), [(5, 2, 600.0), (20, 5, 300.0)])
def test_with_abandonment_the_mean_matches_a_simulation_of_the_line(ahead, operators, patience):
    rng = random.Random(20261123)
    handle = 240.0
    samples = [_simulated_wait(ahead, operators, handle, patience, rng) for _ in range(20000)]
    simulated = sum(samples) / len(samples)
    mean, _ = estimator.expected_wait(ahead, operators, handle, patience)
    assert mean == pytest.approx(simulated, rel=0.03)
    assert mean < estimator.expected_wait(ahead, operators, handle)[0]


def test_the_range_said_aloud_contains_the_mean_and_uses_round_numbers():
    found = estimator.estimate(ahead=12, operators=3, mean_handle_seconds=300)
    assert found is not None
    assert found.low_minutes * 60 <= found.mean_seconds <= found.high_minutes * 60
    assert found.low_minutes % 5 == 0 and found.high_minutes % 5 == 0


def test_a_short_wait_is_said_in_single_minutes():
    found = estimator.estimate(ahead=0, operators=4, mean_handle_seconds=120)
    assert found is not None and found.is_short
    assert (found.low_minutes, found.high_minutes) == (0, 1)


def test_no_operator_on_duty_gives_no_estimate():
    assert estimator.estimate(ahead=3, operators=0, mean_handle_seconds=300) is None


def test_handle_time_leans_on_the_prior_until_calls_are_measured():
    assert estimator.mean_handle_time([]) == estimator.DEFAULT_HANDLE_SECONDS
    many = [100.0] * 500
    assert estimator.mean_handle_time(many) == pytest.approx(100.0, rel=0.02)


def test_patience_is_time_waited_per_caller_who_gave_up():
    assert estimator.mean_patience([(60, False), (120, True), (300, False)]) == 480
    assert estimator.mean_patience([(60, False)]) is None


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="negative"):
        estimator.expected_wait(-1, 1, 300)
    with pytest.raises(ValueError, match="handle"):
        estimator.expected_wait(1, 1, 0)
