"""The history page's charts and tables: labels, series and rows from line_metrics.history."""

from __future__ import annotations

from typing import Any

from agent_console.formats import number, percent
from agent_console.i18n import translate
from agent_console.services.line_board import duration
from call_queue.line_metrics.history import History
from madoguchi.settings import Settings

# Colours chosen to stay apart for colour-blind readers (Okabe–Ito).
COLOURS = {"answered": "#0072B2", "abandoned": "#D55E00", "callback": "#E69F00",
           "self_served": "#009E73", "placed": "#56B4E9", "reached": "#0072B2",
           "service_level": "#000000"}


def _label(moment, settings: Settings, daily: bool) -> str:
    # Fixed-width 24-hour labels in both languages: they line up under a chart's 96 quarter-hours.
    local = moment.astimezone(settings.tz)
    return local.strftime("%m-%d") if daily else local.strftime("%H:%M")


def _series(key: str, values: list, language: str, kind: str = "bar") -> dict[str, Any]:
    return {"key": key, "label": translate(f"series_{key}", language), "values": values,
            "colour": COLOURS[key], "kind": kind}


def charts(found: History, settings: Settings, language: str) -> list[dict[str, Any]]:
    """Four charts, each with its title, x labels, series and the same numbers as a table."""
    daily = found.daily
    seconds = settings.supervisor.service_level_seconds
    volume_labels = [_label(b.start, settings, daily) for b in found.volume]
    hour_labels = [_label(b.start, settings, daily) for b in found.levels]
    # Each key written out whole, so that extraction finds it (see agent_console/babel.cfg).
    made = [
        {"id": "volume", "title": translate("chart_volume_day", language) if daily
         else translate("chart_volume_15", language),
         "stacked": True, "labels": volume_labels, "series": [
             _series(key, [getattr(b, key) for b in found.volume], language)
             for key in ("answered", "abandoned", "callback", "self_served")]},
        {"id": "waits", "title": translate("chart_waits", language), "stacked": True,
         "labels": [label for label, _, _ in found.waits], "first_column": "col_wait",
         "series": [_series("answered", [a for _, a, _ in found.waits], language),
                    _series("abandoned", [g for _, _, g in found.waits], language)]},
        {"id": "service-level",
         "title": translate("chart_level_day", language, seconds=seconds) if daily
         else translate("chart_level_hour", language, seconds=seconds),
         "stacked": False, "percent": True, "labels": hour_labels, "series": [
             _series("service_level", [None if b.percent is None else round(b.percent, 1)
                                       for b in found.levels], language, "line")],
         "extra": {"label": translate("col_counted", language),
                   "values": [b.counted for b in found.levels]}},
        {"id": "callbacks",
         "title": translate("chart_callbacks_day", language) if daily
         else translate("chart_callbacks_hour", language),
         "stacked": False, "labels": hour_labels, "series": [
             _series("placed", [b.placed for b in found.callbacks], language),
             _series("reached", [b.reached for b in found.callbacks], language)]},
    ]
    for chart in made:
        chart["first_column"] = translate(chart.get("first_column", "col_time"), language)
    return made


def totals_text(found: History, language: str) -> str:
    """One sentence with the range's totals, under the same definitions as the live view."""
    totals = found.totals
    level = totals.service_level
    counts = {name: number(value, language) for name, value in (
        ("calls", totals.calls), ("answered", totals.answered), ("abandoned", totals.abandoned),
        ("callbacks", totals.callbacks_taken), ("self_served", totals.self_served))}
    return translate("history_totals", language, **counts,
                     level=percent(None if level is None else level * 100, language),
                     asa=duration(totals.average_speed_of_answer))
