"""The supervisors' live board: the line's snapshot worded and formatted for the wall screen."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from agent_console.formats import NO_VALUE, clock, number, percent
from agent_console.i18n import translate
from call_queue.line_metrics import alerts
from call_queue.line_metrics.snapshot import LiveSnapshot
from madoguchi.models import AlertEvent
from madoguchi.settings import Settings

OPERATOR_STATES = ("available", "on_call", "wrap_up", "away")


def duration(seconds: float | None) -> str:
    """Seconds as m:ss (h:mm:ss from an hour), or a dash when there is no value."""
    if seconds is None or not math.isfinite(seconds):
        return NO_VALUE
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def metric_text(metric: str, value: float | None, language: str) -> str:
    """A thresholded metric's value as shown on its tile and in alert texts."""
    if metric.endswith("_seconds"):
        return duration(value)
    if metric.endswith("_percent"):
        return percent(value, language)
    return number(None if value is None else round(value), language)


def tiles(snapshot: LiveSnapshot, settings: Settings, language: str) -> dict[str, dict]:
    """Each tile's text, level and explanatory note, keyed by tile name."""
    levels = snapshot.levels(settings)
    summary = snapshot.last_hour
    config = settings.supervisor

    def tile(text: str, level: str = "ok", note: str = "") -> dict[str, str]:
        return {"text": text, "level": level, "note": note}

    board = {
        metric: tile(metric_text(metric, snapshot.value(metric), language), levels[metric])
        for metric in levels
    }
    board["callbacks_waiting"] = tile(number(snapshot.callbacks.waiting, language))
    board["callbacks_overdue"]["note"] = translate(
        "note_callbacks_overdue", language, minutes=config.callback_promise_minutes)
    board["abandoned_rate_percent"] = tile(
        translate("abandoned_value", language, count=number(summary.abandoned, language),
                  rate=percent(snapshot.value("abandoned_rate_percent"), language)),
        levels["abandoned_rate_percent"], translate("note_abandoned", language))
    board["service_level_percent"]["note"] = translate(
        "note_service_level", language, seconds=config.service_level_seconds,
        answered=number(summary.answered_within, language),
        counted=number(summary.wait_ended, language))
    board["average_speed_of_answer_seconds"]["note"] = translate("note_asa", language)
    board["calls_last_hour"] = tile(number(summary.calls, language))
    share = summary.self_served_share
    board["self_served_share"] = tile(percent(None if share is None else share * 100, language),
                                      note=translate("note_self_served", language))
    for state in OPERATOR_STATES:
        board[f"operators_{state}"] = tile(number(snapshot.operators.get(state, 0), language))
    for item in board.values():
        # Colour is never the only sign: the level is also written on the tile.
        item["level_text"] = "" if item["level"] == "ok" else translate(
            f"level_{item['level']}", language)
    return board


def staffing_text(snapshot: LiveSnapshot, settings: Settings, language: str) -> dict[str, str]:
    """The staffing advice in words: the basis, the estimate, and whether it is enough."""
    advice = snapshot.staffing
    config = settings.supervisor
    basis = translate(
        "staffing_basis", language, window=advice.window_minutes,
        arrivals=number(advice.arrivals, language),
        per_hour=number(round(advice.arrivals_per_hour), language),
        aht=duration(advice.handle_seconds),
        wrap=settings.queue.wrap_up_seconds)
    if not advice.handle_from_history:
        basis += " " + translate("staffing_default_aht", language)
    verdict = (translate("staffing_short", language, n=number(advice.short_by, language))
               if advice.short_by
               else translate("staffing_enough", language))
    expected = ""
    if advice.service_level_on_duty is not None:
        expected = translate("staffing_on_duty_level", language,
                             level=percent(advice.service_level_on_duty * 100, language),
                             seconds=config.service_level_seconds)
    return {
        "needed": number(advice.needed, language), "on_duty": number(advice.on_duty, language),
        "level": "red" if advice.short_by else "ok",
        "target": translate("staffing_target", language,
                            target=number(config.service_level_target_percent, language),
                            seconds=config.service_level_seconds),
        "basis": basis, "verdict": verdict, "expected": expected,
    }


def alert_lines(rows: list[AlertEvent], settings: Settings, language: str) -> list[dict]:
    """Open alerts as sentences for the screen, most serious first."""
    return [
        {"level": row.level, "text": alert_sentence(row.metric, row.level, row.value,
                                                     row.threshold, language,
                                                     since=row.raised_at.astimezone(settings.tz))}
        for row in rows
    ]


def alert_sentence(metric: str, level: str, value: float, threshold: float, language: str,
                   since: datetime | None = None) -> str:
    """One alert in words: which tile, how far, against which threshold, since when."""
    text = translate("alert_text", language, metric=translate(f"tile_{metric}", language),
                     level=translate(f"level_{level}", language),
                     value=metric_text(metric, value, language),
                     threshold=metric_text(metric, threshold, language))
    if since is not None:
        text += " " + translate("alert_since", language, time=clock(since, language))
    return text


def board(snapshot: LiveSnapshot, open_alerts: list[AlertEvent], settings: Settings,
          language: str) -> dict[str, Any]:
    """Everything the live page shows, ready for the template and the event stream."""
    shown = open_alerts if "screen" in settings.supervisor.notify else []
    return {
        "updated": translate("live_updated", language,
                             time=clock(snapshot.at, language, settings.tz, seconds=True)),
        "tiles": tiles(snapshot, settings, language),
        "staffing": staffing_text(snapshot, settings, language),
        "alerts": alert_lines(shown, settings, language),
    }


def current_alerts(session) -> list[AlertEvent]:
    """The alerts still open (a thin pass-through so views do not reach into the core)."""
    return alerts.open_alerts(session)
