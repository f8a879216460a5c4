"""Honest wait estimates for a caller in line: pure functions, no I/O.

The estimate is a queue-length predictor (Whitt, "Predicting queueing delays", 1999; Ibrahim &
Whitt, "Real-time delay estimation based on delay history", 2009). A caller with n parties ahead
is served after n + 1 service completions. With s operators each finishing a call at rate mu,
and every party still waiting giving up at rate theta (exponential patience), the time to the
next departure while k parties are waiting is exponential with rate s*mu + k*theta, so

    E[W] = sum_{k=0..n} 1 / (s*mu + k*theta),   Var[W] = sum_{k=0..n} 1 / (s*mu + k*theta)^2.

With theta = 0 this is Gamma(n + 1, s*mu): mean (n + 1)/(s*mu). Twilio's AvgQueueTime is not used:
it is how long the current waiters have already waited, not a forecast.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_HANDLE_SECONDS = 300.0
# Prior weight (in calls) of the default handle time when few calls have been measured.
PRIOR_CALLS = 5
# The range said aloud runs from the 10th to the 90th percentile of the wait: 8 callers in 10
# are answered inside it. Z is the standard normal quantile of 90%.
RANGE_Z = 1.2816
# Up to this expected wait the caller hears "about N minutes" rather than a range.
ABOUT_SECONDS = 5 * 60
# Up to this expected wait the caller hears "in a moment".
MOMENT_SECONDS = 60


@dataclass(frozen=True)
class WaitEstimate:
    """Expected wait with its spread, in seconds, and a rounded range to say aloud."""

    mean_seconds: float
    sd_seconds: float
    low_minutes: int
    high_minutes: int

    @property
    def is_short(self) -> bool:
        """True when the caller should hear "in a moment" rather than a range."""
        return self.mean_seconds <= MOMENT_SECONDS

    @property
    def about_minutes(self) -> int | None:
        """The whole minutes of "about N minutes" for a short wait; None when a range is said."""
        if self.is_short or self.mean_seconds > ABOUT_SECONDS:
            return None
        return max(2, round(self.mean_seconds / 60))


def expected_wait(ahead: int, operators: int, mean_handle_seconds: float,
                  mean_patience_seconds: float | None = None) -> tuple[float, float]:
    """Mean and standard deviation (seconds) of the wait of a caller with `ahead` before them."""
    if ahead < 0:
        raise ValueError("ahead cannot be negative")
    if operators <= 0:
        raise ValueError("no operator on duty: there is no finite estimate")
    if mean_handle_seconds <= 0:
        raise ValueError("mean handle time must be positive")
    service_rate = operators / mean_handle_seconds
    abandon_rate = 0.0 if not mean_patience_seconds else 1.0 / mean_patience_seconds
    rates = [service_rate + k * abandon_rate for k in range(ahead + 1)]
    mean = sum(1.0 / rate for rate in rates)
    variance = sum(1.0 / rate**2 for rate in rates)
    return mean, math.sqrt(variance)


def _step(minutes: float) -> int:
    if minutes <= 10:
        return 1
    return 5 if minutes <= 60 else 15


def wait_quantile(mean_seconds: float, sd_seconds: float, z: float) -> float:
    """The wait's quantile at standard normal z, for a gamma law of the same mean and spread.

    The wait is a sum of n + 1 exponential stages, close to a gamma law; the Wilson-Hilferty
    transform gives its quantiles in closed form (within a few percent from one stage up).
    """
    if mean_seconds <= 0:
        return 0.0
    shape = (mean_seconds / sd_seconds) ** 2 if sd_seconds > 0 else math.inf
    if math.isinf(shape):
        return mean_seconds
    cube = 1.0 - 1.0 / (9.0 * shape) + z / (3.0 * math.sqrt(shape))
    return mean_seconds * max(cube, 0.0) ** 3


def spoken_range(mean_seconds: float, sd_seconds: float) -> tuple[int, int]:
    """The 10th to 90th percentile in whole minutes, in steps a listener takes in (1, 5, 15).

    The low end follows the people ahead (it is zero only when a quick answer is likely), and
    it never rises above the expected wait.
    """
    low = wait_quantile(mean_seconds, sd_seconds, -RANGE_Z) / 60.0
    high = wait_quantile(mean_seconds, sd_seconds, RANGE_Z) / 60.0
    mean = mean_seconds / 60.0
    step = _step(high)
    low_rounded = int(min(round(low / step) * step, math.floor(mean / step) * step))
    high_rounded = int(math.ceil(high / step) * step)
    if high_rounded <= low_rounded:
        high_rounded = low_rounded + step
    return max(low_rounded, 0), max(high_rounded, 1)


def estimate(ahead: int, operators: int, mean_handle_seconds: float,
             mean_patience_seconds: float | None = None) -> WaitEstimate | None:
    """The estimate to announce, or None when no operator is on duty (offer a callback)."""
    if operators <= 0:
        return None
    mean, sd = expected_wait(ahead, operators, mean_handle_seconds, mean_patience_seconds)
    low, high = spoken_range(mean, sd)
    return WaitEstimate(mean_seconds=mean, sd_seconds=sd, low_minutes=low, high_minutes=high)


def mean_handle_time(recent_seconds: Sequence[float],
                     prior_seconds: float = DEFAULT_HANDLE_SECONDS) -> float:
    """Recent mean handle time, shrunk toward the prior when few calls were measured."""
    measured = [value for value in recent_seconds if value > 0]
    total = sum(measured) + PRIOR_CALLS * prior_seconds
    return total / (len(measured) + PRIOR_CALLS)


def mean_patience(waits: Iterable[tuple[float, bool]]) -> float | None:
    """Maximum-likelihood mean patience from (seconds waited, gave up?) of recent callers.

    For exponential patience the estimate is total time spent waiting divided by the number
    who gave up (those who were answered are censored observations). None when nobody gave up.
    """
    total = 0.0
    abandoned = 0
    for seconds, gave_up in waits:
        total += max(seconds, 0.0)
        abandoned += 1 if gave_up else 0
    if abandoned == 0:
        return None
    return total / abandoned
