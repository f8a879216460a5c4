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


def test_a_wait_under_a_minute_is_said_as_in_a_moment():
    found = estimator.estimate(ahead=0, operators=4, mean_handle_seconds=120)
    assert found is not None and found.is_short and found.about_minutes is None
    assert found.low_minutes == 0


def test_a_short_wait_is_said_as_about_n_minutes():
    found = estimator.estimate(ahead=1, operators=2, mean_handle_seconds=300)
    assert found is not None and not found.is_short
    assert found.about_minutes == 5


@pytest.mark.parametrize(("ahead", "operators"), [(2, 1), (5, 2), (12, 3), (30, 3)])
def test_with_people_ahead_the_range_starts_above_zero_and_holds_the_mean(ahead, operators):
    found = estimator.estimate(ahead=ahead, operators=operators, mean_handle_seconds=300)
    assert found is not None and found.about_minutes is None
    assert 0 < found.low_minutes * 60 <= found.mean_seconds <= found.high_minutes * 60


def test_the_range_narrows_as_the_people_ahead_are_served():
    spans = []
    for ahead in (12, 8, 4, 2):
        found = estimator.estimate(ahead=ahead, operators=2, mean_handle_seconds=300)
        spans.append(found.high_minutes - found.low_minutes)
    assert spans == sorted(spans, reverse=True) and spans[-1] < spans[0]


@pytest.mark.parametrize(("ahead", "operators", "patience"), [(0, 1, None), (3, 1, None),
                                                             (10, 2, 600.0)])
def test_about_eight_in_ten_simulated_waits_fall_inside_the_quantiles(ahead, operators, patience):
    rng = random.Random(16)
    handle = 300.0
    mean, sd = estimator.expected_wait(ahead, operators, handle, patience)
    low = estimator.wait_quantile(mean, sd, -estimator.RANGE_Z)
    high = estimator.wait_quantile(mean, sd, estimator.RANGE_Z)
    samples = [_simulated_wait(ahead, operators, handle, patience, rng) for _ in range(5000)]
    inside = sum(low <= wait <= high for wait in samples) / len(samples)
    assert 0.76 <= inside <= 0.84


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
