"""Staffing advice: recent arrivals and handle time through Erlang C, beside who is on duty.

The load A = arrivals per second x handle time (talk time plus the configured wrap-up). Erlang C
gives the fewest operators s with SL(t) = 1 - C(s, A) * exp(-(s - A) t / AHT) at or above the
target; the service level the operators on duty would give is shown beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean

from call_queue import erlang
from call_queue.estimator import DEFAULT_HANDLE_SECONDS


@dataclass(frozen=True)
class StaffingAdvice:
    """Operators needed for the service-level target now, and what those on duty would give."""

    arrivals: int
    window_minutes: int
    arrivals_per_hour: float
    handle_seconds: float
    handle_from_history: bool
    load_erlangs: float
    needed: int
    on_duty: int
    service_level_on_duty: float | None

    @property
    def short_by(self) -> int:
        """How many more operators the target needs than are on duty (0 when enough)."""
        return max(self.needed - self.on_duty, 0)


def advise(*, arrivals: int, window_minutes: int, talk_seconds: list[float],
           wrap_up_seconds: float, on_duty: int, target_share: float,
           threshold_seconds: float) -> StaffingAdvice:
    """The advice from the window's arrivals and talk times (a default when none ended)."""
    if window_minutes <= 0:
        raise ValueError(f"window_minutes must be positive, got {window_minutes!r}")
    rate = arrivals / (window_minutes * 60)
    measured = bool(talk_seconds)
    handle = (fmean(talk_seconds) if measured else DEFAULT_HANDLE_SECONDS) + wrap_up_seconds
    handle = max(handle, 1.0)
    load = erlang.offered_load(rate, handle)
    needed = erlang.operators_needed(rate, handle, target_share, threshold_seconds)
    on_duty_level = None
    if on_duty > 0:
        on_duty_level = erlang.service_level(on_duty, load, handle, threshold_seconds)
    return StaffingAdvice(
        arrivals=arrivals, window_minutes=window_minutes, arrivals_per_hour=rate * 3600,
        handle_seconds=handle, handle_from_history=measured, load_erlangs=load, needed=needed,
        on_duty=on_duty, service_level_on_duty=on_duty_level,
    )
