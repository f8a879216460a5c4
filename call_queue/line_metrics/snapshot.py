"""One reading of the line for the wall screen: tiles with their levels, and staffing advice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from call_queue.line_metrics import live, staffing_advice
from call_queue.line_metrics.definitions import LineSummary
from call_queue.line_metrics.levels import Level, level_of
from madoguchi.settings import Settings

WINDOW = timedelta(hours=1)
# The tiles that have thresholds, in the order of the configuration.
THRESHOLD_METRICS = ("holding_now", "longest_wait_seconds", "callbacks_overdue",
                     "abandoned_rate_percent", "service_level_percent",
                     "average_speed_of_answer_seconds")
# Shares and means over the hour's callers, too jumpy to alarm on from one or two calls.
RATE_METRICS = ("abandoned_rate_percent", "service_level_percent",
                "average_speed_of_answer_seconds")


@dataclass(frozen=True)
class LiveSnapshot:
    """Everything the live view shows, as numbers (the console words and formats them)."""

    at: datetime
    holding: live.Holding
    callbacks: live.Callbacks
    operators: dict[str, int]
    last_hour: LineSummary
    threshold_seconds: int
    staffing: staffing_advice.StaffingAdvice

    def value(self, metric: str) -> float | None:
        """The value a threshold is compared with (percentages as 0 to 100)."""
        summary = self.last_hour
        return {
            "holding_now": float(self.holding.count),
            "longest_wait_seconds": self.holding.longest_wait_seconds,
            "callbacks_overdue": float(self.callbacks.overdue),
            "abandoned_rate_percent": _percent(summary.abandoned_rate),
            "service_level_percent": _percent(summary.service_level),
            "average_speed_of_answer_seconds": summary.average_speed_of_answer,
        }[metric]

    def levels(self, settings: Settings) -> dict[str, Level]:
        """Each thresholded tile's level; rates stay uncoloured until enough callers count."""
        config = settings.supervisor
        too_few = self.last_hour.wait_ended < config.rates_need_callers
        return {metric: "ok" if too_few and metric in RATE_METRICS
                else level_of(metric, self.value(metric), config.thresholds)
                for metric in THRESHOLD_METRICS}


def _percent(share: float | None) -> float | None:
    return None if share is None else share * 100


def take(session: Session, *, settings: Settings, operator_counts: dict[str, int],
         now: datetime) -> LiveSnapshot:
    """Read the line now: holders, callbacks, the last hour, and the staffing advice."""
    config = settings.supervisor
    on_duty = sum(operator_counts.get(state, 0) for state in ("available", "on_call", "wrap_up"))
    window = timedelta(minutes=config.staffing_window_minutes)
    advice = staffing_advice.advise(
        arrivals=live.arrivals(session, now - window, now),
        window_minutes=config.staffing_window_minutes,
        talk_seconds=live.handle_times(session, now - window, now),
        wrap_up_seconds=settings.queue.wrap_up_seconds, on_duty=on_duty,
        target_share=config.service_level_target_percent / 100,
        threshold_seconds=config.service_level_seconds,
    )
    return LiveSnapshot(
        at=now,
        holding=live.holding_now(session, now),
        callbacks=live.callbacks_waiting(session, now, config.callback_promise_minutes),
        operators=dict(operator_counts),
        last_hour=live.line_summary(session, now - WINDOW, now, config.service_level_seconds),
        threshold_seconds=config.service_level_seconds,
        staffing=advice,
    )
