"""Erlang C staffing arithmetic: published examples, exact cross-checks, large lines, bad input."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from call_queue import erlang

# The worked example used across call-centre planning guides: 100 calls in a 30-minute interval,
# handle time 3 minutes (180 s), target 80% of calls answered within 20 seconds.
CLASSIC_RATE = 100 / 1800
CLASSIC_AHT = 180.0


def _exact_erlang_c(operators: int, load: Fraction) -> Fraction:
    """Erlang C from its textbook definition in exact rational arithmetic (small s only)."""
    top = load**operators / math.factorial(operators) * Fraction(operators) / (operators - load)
    bottom = sum(load**k / math.factorial(k) for k in range(operators)) + top
    return top / bottom


def test_the_classic_interval_offers_ten_erlangs():
    assert erlang.offered_load(CLASSIC_RATE, CLASSIC_AHT) == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("operators", "waiting", "within_20s", "asa_seconds"),
    [
        (11, 0.6821, 0.3896, 122.8),
        (12, 0.4494, 0.6402, 40.4),
        (13, 0.2853, 0.7956, 17.1),
        (14, 0.1741, 0.8884, 7.8),
    ],
)
def test_the_classic_interval_matches_the_published_staffing_table(
    operators, waiting, within_20s, asa_seconds
):
    load = erlang.offered_load(CLASSIC_RATE, CLASSIC_AHT)
    assert erlang.erlang_c(operators, load) == pytest.approx(waiting, abs=5e-5)
    assert erlang.service_level(operators, load, CLASSIC_AHT, 20) == pytest.approx(
        within_20s, abs=5e-5
    )
    assert erlang.average_speed_of_answer(operators, load, CLASSIC_AHT) == pytest.approx(
        asa_seconds, abs=0.05
    )


def test_the_classic_interval_needs_fourteen_operators_for_80_percent_in_20_seconds():
    assert erlang.operators_needed(CLASSIC_RATE, CLASSIC_AHT, 0.8, 20) == 14


def test_ten_servers_at_six_erlangs_wait_about_one_call_in_ten():
    # The textbook M/M/10 exercise: 120 customers an hour, 3 minutes each.
    assert erlang.erlang_c(10, 6.0) == pytest.approx(0.10, abs=0.005)


def test_erlang_b_matches_the_blocking_table_for_ten_lines_at_five_erlangs():
    assert erlang.erlang_b(10, 5.0) == pytest.approx(0.018385, abs=1e-6)


@pytest.mark.parametrize("operators", [1, 2, 3, 5, 8, 13, 21])
@pytest.mark.parametrize("occupancy", [Fraction(1, 10), Fraction(1, 2), Fraction(9, 10),
                                       Fraction(99, 100)])
def test_erlang_c_agrees_with_the_exact_factorial_formula(operators, occupancy):
    load = occupancy * operators
    exact = _exact_erlang_c(operators, load)
    assert erlang.erlang_c(operators, float(load)) == pytest.approx(float(exact), rel=1e-12)


def test_one_operator_waits_with_probability_equal_to_the_occupancy():
    # M/M/1: a caller waits exactly when the operator is busy, which is rho of the time.
    assert erlang.erlang_c(1, 0.7) == pytest.approx(0.7)


@pytest.mark.parametrize(("operators", "load"), [(200, 190), (500, 400), (500, 480), (500, 499)])
def test_hundreds_of_operators_stay_exact_where_the_factorial_form_overflows(operators, load):
    with pytest.raises(OverflowError):
        _ = float(load) ** operators / math.factorial(operators)
    exact = _exact_erlang_c(operators, Fraction(load))
    assert erlang.erlang_c(operators, float(load)) == pytest.approx(float(exact), rel=1e-9)


def test_more_operators_never_make_waiting_more_likely():
    load = 42.5
    chances = [erlang.erlang_c(s, load) for s in range(43, 80)]
    assert all(later <= earlier for earlier, later in itertools.pairwise(chances))


def test_a_load_at_or_above_the_operators_always_waits_and_never_meets_a_target():
    assert erlang.erlang_c(10, 10.0) == 1.0
    assert erlang.erlang_c(10, 12.5) == 1.0
    assert erlang.average_speed_of_answer(10, 10.0, 180) == math.inf
    assert erlang.service_level(10, 12.5, 180, 20) == 0.0


def test_no_calls_means_nobody_waits_and_nobody_is_needed():
    assert erlang.erlang_c(3, 0.0) == 0.0
    assert erlang.average_speed_of_answer(3, 0.0, 180) == 0.0
    assert erlang.service_level(3, 0.0, 180, 0) == 1.0
    assert erlang.operators_needed(0.0, 180, 0.8, 20) == 0


def test_a_zero_second_threshold_counts_only_calls_answered_at_once():
    load = 10.0
    assert erlang.service_level(14, load, 180, 0) == pytest.approx(1 - erlang.erlang_c(14, load))


def test_the_operators_found_are_the_fewest_that_meet_the_target():
    rate, aht = 0.35, 240.0  # 84 Erlangs
    needed = erlang.operators_needed(rate, aht, 0.9, 30)
    load = erlang.offered_load(rate, aht)
    assert erlang.service_level(needed, load, aht, 30) >= 0.9
    assert erlang.service_level(needed - 1, load, aht, 30) < 0.9


def test_a_maximum_occupancy_adds_operators_when_the_target_alone_would_keep_them_busier():
    # 14 operators meet 80/20 at 10 Erlangs but would be 71% busy; 50% allows 20 operators.
    assert erlang.operators_needed(CLASSIC_RATE, CLASSIC_AHT, 0.8, 20, max_occupancy=0.5) == 20
    # A loose ceiling changes nothing.
    assert erlang.operators_needed(CLASSIC_RATE, CLASSIC_AHT, 0.8, 20, max_occupancy=0.85) == 14


def test_an_exact_occupancy_ceiling_is_not_rounded_up_by_float_error():
    # 8 Erlangs at most 80% busy is exactly 10 operators, not 11.
    needed = erlang.operators_needed(8 / 3600, 3600, 0.01, 0, max_occupancy=0.8)
    assert needed == 10


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang.erlang_c(0, 1.0), "operators must be at least 1"),
        (lambda: erlang.erlang_c(2.5, 1.0), "operators must be a whole number"),
        (lambda: erlang.erlang_c(True, 0.5), "operators must be a whole number"),
        (lambda: erlang.erlang_c(3, -1.0), "load (offered load in Erlangs) cannot be negative"),
        (lambda: erlang.erlang_c(3, math.nan), "load (offered load in Erlangs) must be a finite"),
        (lambda: erlang.erlang_c(3, "2"), "load (offered load in Erlangs) must be a number"),
        (lambda: erlang.average_speed_of_answer(3, 1.0, 0), "aht (mean handle time in seconds)"),
        (lambda: erlang.service_level(3, 1.0, 180, -5), "threshold_s (seconds) cannot be negative"),
        (lambda: erlang.offered_load(-0.1, 180), "arrival_rate_per_s cannot be negative"),
        (lambda: erlang.operators_needed(0.1, 180, 80, 20), "target_sl must be a share"),
        (lambda: erlang.operators_needed(0.1, 180, 1.0, 20), "(0.8 for 80%)"),
        (lambda: erlang.operators_needed(0.1, 180, 0.8, 20, max_occupancy=85),
         "max_occupancy must be a share in (0, 1]"),
        (lambda: erlang.operators_needed(0.1, 180, 0.8, 20, max_occupancy=0),
         "max_occupancy must be a share"),
        (lambda: erlang.operators_needed(0.1, math.inf, 0.8, 20), "must be a finite number"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_the_value_and_what_is_expected(call, message):
    with pytest.raises(ValueError) as refused:
        call()
    assert message in str(refused.value)
