"""Erlang C staffing arithmetic for the line: pure functions, no I/O.

The M/M/s model: calls arrive at random (Poisson) at rate lambda, each takes an operator an
exponential handle time of mean AHT, callers wait in one line and nobody gives up. The offered
load A = lambda * AHT (in Erlangs) is the number of operators the calls would keep busy.

Erlang C is computed from the Erlang B recursion B(0) = 1, B(k) = A*B(k-1) / (k + A*B(k-1)),
then C = s*B / (s - A*(1 - B)). Every step stays between 0 and 1, so the result is accurate for
hundreds of operators where the factorial form A^s/s! overflows.
"""

from __future__ import annotations

import math


def _require_finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def _require_positive(name: str, value: float) -> None:
    _require_finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value!r}")


def _require_non_negative(name: str, value: float) -> None:
    _require_finite(name, value)
    if value < 0:
        raise ValueError(f"{name} cannot be negative, got {value!r}")


def _require_operators(operators: int) -> None:
    if isinstance(operators, bool) or not isinstance(operators, int):
        raise ValueError(f"operators must be a whole number, got {operators!r}")
    if operators < 1:
        raise ValueError(f"operators must be at least 1, got {operators!r}")


def offered_load(arrival_rate_per_s: float, aht: float) -> float:
    """Offered load A = lambda * AHT in Erlangs (calls per second times seconds per call)."""
    _require_non_negative("arrival_rate_per_s", arrival_rate_per_s)
    _require_positive("aht (mean handle time in seconds)", aht)
    return arrival_rate_per_s * aht


def erlang_b(operators: int, load: float) -> float:
    """Erlang B: the probability that a call finds all `operators` busy when nobody waits."""
    _require_operators(operators)
    _require_non_negative("load (offered load in Erlangs)", load)
    blocking = 1.0
    for k in range(1, operators + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(operators: int, load: float) -> float:
    """Erlang C: the probability that a call has to wait; 1.0 when load >= operators."""
    _require_operators(operators)
    _require_non_negative("load (offered load in Erlangs)", load)
    if load >= operators:
        return 1.0
    blocking = erlang_b(operators, load)
    waiting = operators * blocking / (operators - load * (1.0 - blocking))
    return min(max(waiting, 0.0), 1.0)


def average_speed_of_answer(operators: int, load: float, aht: float) -> float:
    """Mean wait over all calls in seconds, C*AHT/(s - A); infinite when load >= operators."""
    _require_positive("aht (mean handle time in seconds)", aht)
    probability = erlang_c(operators, load)
    if load >= operators:
        return math.inf
    return probability * aht / (operators - load)


def service_level(operators: int, load: float, aht: float, threshold_s: float) -> float:
    """Share of calls answered within `threshold_s` seconds, 1 - C*exp(-(s - A)*t/AHT)."""
    _require_positive("aht (mean handle time in seconds)", aht)
    _require_non_negative("threshold_s (seconds)", threshold_s)
    probability = erlang_c(operators, load)
    if load >= operators:
        return 0.0
    return 1.0 - probability * math.exp(-(operators - load) * threshold_s / aht)


def operators_needed(arrival_rate_per_s: float, aht: float, target_sl: float,
                     threshold_s: float, max_occupancy: float | None = None) -> int:
    """The fewest operators answering `target_sl` of calls within `threshold_s` seconds.

    `max_occupancy` (0 < x <= 1), when given, also keeps A/s at or below it so that operators
    are not kept busy every minute of the hour. No calls need no operators.
    """
    load = offered_load(arrival_rate_per_s, aht)
    _require_finite("target_sl", target_sl)
    if not 0 < target_sl < 1:
        raise ValueError(
            f"target_sl must be a share strictly between 0 and 1 (0.8 for 80%), got {target_sl!r}"
        )
    _require_non_negative("threshold_s (seconds)", threshold_s)
    if max_occupancy is not None:
        _require_finite("max_occupancy", max_occupancy)
        if not 0 < max_occupancy <= 1:
            raise ValueError(
                f"max_occupancy must be a share in (0, 1] (0.85 for 85%), got {max_occupancy!r}"
            )
    if load == 0:
        return 0
    operators = math.floor(load) + 1
    if max_occupancy is not None:
        # The tolerance keeps 8 / 0.8 from rounding up to 11 through float error.
        operators = max(operators, math.ceil(load / max_occupancy - 1e-9))
    # Service level rises with every operator added and tends to 1, so this ends.
    while service_level(operators, load, aht, threshold_s) < target_sl:
        operators += 1
    return operators
