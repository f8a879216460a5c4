"""Thresholds colour the tiles; a breach is recorded once, escalates once, and clears."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from call_queue.line_metrics import alerts
from call_queue.line_metrics.levels import level_of
from madoguchi.models import AlertEvent
from madoguchi.settings import ThresholdSettings
from tests.call_queue.line_metrics.history_fixture import NOW

THRESHOLDS = ThresholdSettings()


@pytest.mark.parametrize(("metric", "value", "level"), [
    ("holding_now", 2, "ok"), ("holding_now", 3, "amber"), ("holding_now", 6, "red"),
    ("service_level_percent", 81, "ok"), ("service_level_percent", 80, "amber"),
    ("service_level_percent", 60, "red"), ("service_level_percent", None, "ok"),
    ("average_speed_of_answer_seconds", 45, "amber"),
])
def test_a_value_reaching_a_threshold_takes_its_colour(metric, value, level):
    assert level_of(metric, value, THRESHOLDS) == level


def _check(session, level: str, value: float, minutes: int):
    return alerts.record(session, {"holding_now": level}, {"holding_now": value}, THRESHOLDS,
                         NOW + timedelta(minutes=minutes))


def test_a_breach_is_recorded_once_however_often_the_line_is_checked(db_session):
    first = _check(db_session, "amber", 3, 0)
    again = _check(db_session, "amber", 4, 1)
    assert [(r.metric, r.level, r.value, r.threshold) for r in first] == [
        ("holding_now", "amber", 3.0, 3.0)]
    assert again == []
    assert db_session.scalar(select(AlertEvent.id).where(AlertEvent.metric == "holding_now")
                             ) == first[0].alert_id
    assert len(db_session.scalars(select(AlertEvent)).all()) == 1


def test_rising_to_red_is_announced_again_on_the_same_breach_and_falling_back_is_not(
        db_session):
    [opened] = _check(db_session, "amber", 3, 0)
    [escalated] = _check(db_session, "red", 7, 1)
    assert escalated.alert_id == opened.alert_id and escalated.level == "red"
    assert _check(db_session, "amber", 4, 2) == []
    row = db_session.get(AlertEvent, opened.alert_id)
    assert (row.level, row.value, row.threshold, row.cleared_at) == ("red", 7.0, 6.0, None)


def test_a_breach_clears_when_the_value_is_back_to_normal_and_a_new_one_opens_later(
        db_session):
    [first] = _check(db_session, "amber", 3, 0)
    assert _check(db_session, "ok", 1, 5) == []
    assert db_session.get(AlertEvent, first.alert_id).cleared_at == NOW + timedelta(minutes=5)
    assert alerts.open_alerts(db_session) == []
    [second] = _check(db_session, "amber", 3, 9)
    assert second.alert_id != first.alert_id
