"""Breaches of the tiles' thresholds: one alert row per breach, told once, cleared when over.

A metric reaching amber or red opens an alert row and is announced; the same breach staying
amber or red on later checks changes nothing, except that rising from amber to red raises the
row's level and is announced again. The row is cleared when the metric is back to normal; a
later breach opens a new row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from call_queue.line_metrics.levels import LEVEL_RANK, Level, threshold_for
from madoguchi.models import AlertEvent
from madoguchi.settings import ThresholdSettings


@dataclass(frozen=True)
class Raised:
    """An alert opened or escalated by this check, to be announced."""

    alert_id: int
    metric: str
    level: Level
    value: float
    threshold: float


def open_alerts(session: Session) -> list[AlertEvent]:
    """Alerts not yet cleared, the most serious and oldest first."""
    rows = session.scalars(select(AlertEvent).where(AlertEvent.cleared_at.is_(None))
                           .order_by(AlertEvent.raised_at, AlertEvent.id)).all()
    return sorted(rows, key=lambda row: -LEVEL_RANK.get(row.level, 0))


def record(session: Session, levels: dict[str, Level], values: dict[str, float | None],
           thresholds: ThresholdSettings, now: datetime) -> list[Raised]:
    """Open, escalate or clear alert rows for these levels; commits; returns what to announce."""
    current = {row.metric: row for row in open_alerts(session)}
    raised: list[Raised] = []
    for metric, level in levels.items():
        row = current.get(metric)
        if level == "ok":
            if row is not None:
                row.cleared_at = now
            continue
        value = float(values[metric] or 0.0)
        threshold = threshold_for(metric, level, thresholds)
        if row is None:
            row = AlertEvent(metric=metric, level=level, value=value, threshold=threshold,
                             raised_at=now, notified="")
            session.add(row)
        elif LEVEL_RANK[level] > LEVEL_RANK.get(row.level, 0):
            row.level, row.value, row.threshold = level, value, threshold
        else:
            continue
        session.flush()
        raised.append(Raised(row.id, metric, level, value, threshold))
    session.commit()
    return raised


def mark_notified(session: Session, alert_id: int, channels: list[str]) -> None:
    """Note on the alert how it was announced (e.g. "screen,sms"); commits."""
    row = session.get(AlertEvent, alert_id)
    if row is not None:
        row.notified = ",".join(channels)[:60]
        session.commit()
