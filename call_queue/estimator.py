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
        return self.high_minutes <= 1


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
        return 1 if minutes <= 3 else 5
    return 5 if minutes <= 60 else 15


def spoken_range(mean_seconds: float, sd_seconds: float) -> tuple[int, int]:
    """A range of whole minutes, rounded outward to steps a listener can take in (5, 15 min)."""
    low = max(mean_seconds - sd_seconds, 0.0) / 60.0
    high = (mean_seconds + sd_seconds) / 60.0
    step = _step(high)
    low_rounded = int(math.floor(low / step) * step)
    high_rounded = int(math.ceil(high / step) * step)
    if high_rounded <= low_rounded:
        high_rounded = low_rounded + step
    return low_rounded, max(high_rounded, 1)


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
