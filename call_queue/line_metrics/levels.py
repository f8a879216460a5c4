"""Tile colours: a metric's value against its amber and red thresholds."""

from __future__ import annotations

from typing import Literal

from madoguchi.settings import LOWER_IS_WORSE, ThresholdSettings

Level = Literal["ok", "amber", "red"]
LEVEL_RANK = {"ok": 0, "amber": 1, "red": 2}


def level_of(metric: str, value: float | None, thresholds: ThresholdSettings) -> Level:
    """ok, amber or red for a value (no value yet, such as no calls, is ok)."""
    if value is None:
        return "ok"
    limits = getattr(thresholds, metric)
    if metric in LOWER_IS_WORSE:
        return "red" if value <= limits.red else "amber" if value <= limits.amber else "ok"
    return "red" if value >= limits.red else "amber" if value >= limits.amber else "ok"


def threshold_for(metric: str, level: Level, thresholds: ThresholdSettings) -> float:
    """The configured value at which the metric reaches this level."""
    limits = getattr(thresholds, metric)
    return limits.red if level == "red" else limits.amber
