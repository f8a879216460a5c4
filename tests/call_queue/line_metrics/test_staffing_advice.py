"""Staffing advice: recent arrivals and handle time through Erlang C, beside who is on duty."""

from __future__ import annotations

import pytest

from call_queue.line_metrics import snapshot, staffing_advice
from tests import factories
from tests.call_queue.line_metrics.history_fixture import NOW, store


def test_four_calls_in_thirty_minutes_of_eight_minutes_each_need_three_operators():
    # A = 4/1800 per s x 480 s = 1.067 Erlangs. By hand (Erlang B recursion, then C):
    # s=2: C = 0.371, SL(60) = 1 - 0.371 e^(-0.933 x 60/480) = 0.670 < 0.80;
    # s=3: C = 0.106, SL(60) = 1 - 0.106 e^(-1.933 x 60/480) = 0.916 >= 0.80.
    advice = staffing_advice.advise(arrivals=4, window_minutes=30, talk_seconds=[420.0],
                             wrap_up_seconds=60, on_duty=2, target_share=0.8,
                             threshold_seconds=60)
    assert advice.handle_seconds == pytest.approx(480)
    assert advice.load_erlangs == pytest.approx(1.0667, abs=1e-4)
    assert advice.arrivals_per_hour == pytest.approx(8)
    assert advice.needed == 3
    assert advice.short_by == 1
    assert advice.service_level_on_duty == pytest.approx(0.670, abs=1e-3)


def test_no_calls_need_no_operators():
    advice = staffing_advice.advise(arrivals=0, window_minutes=30, talk_seconds=[],
                             wrap_up_seconds=60, on_duty=0, target_share=0.8,
                             threshold_seconds=60)
    assert advice.needed == 0
    assert advice.short_by == 0
    assert advice.service_level_on_duty is None


def test_without_a_finished_call_the_standard_handle_time_is_used_and_said():
    advice = staffing_advice.advise(arrivals=6, window_minutes=30, talk_seconds=[],
                             wrap_up_seconds=60, on_duty=1, target_share=0.8,
                             threshold_seconds=60)
    assert advice.handle_from_history is False
    assert advice.handle_seconds == pytest.approx(360)


def test_the_snapshot_advises_from_the_last_half_hour_of_the_database(db_session, settings):
    store(db_session, factories.operator(db_session).id)
    reading = snapshot.take(db_session, settings=settings, now=NOW,
                            operator_counts={"available": 1, "on_call": 1, "away": 2})
    assert settings.supervisor.staffing_window_minutes == 30
    assert reading.staffing.arrivals == 4
    assert reading.staffing.on_duty == 2
    assert reading.staffing.needed == 3


def _needing(settings, callers: int):
    supervisor = settings.supervisor.model_copy(update={"rates_need_callers": callers})
    return settings.model_copy(update={"file": settings.file.model_copy(
        update={"supervisor": supervisor})})


def test_rates_take_a_colour_only_once_enough_callers_waits_ended(db_session, settings):
    store(db_session, factories.operator(db_session).id)
    reading = snapshot.take(db_session, settings=settings, now=NOW, operator_counts={})
    # Four callers' waits ended (C, D, E, F): fewer than the five the configuration asks.
    assert reading.last_hour.wait_ended == 4
    assert reading.levels(settings)["abandoned_rate_percent"] == "ok"
    levels = reading.levels(_needing(settings, 4))
    assert levels["abandoned_rate_percent"] == "red"  # 25% against red at 10%
    assert levels["service_level_percent"] == "red"  # 25% against red at 60%
    assert levels["average_speed_of_answer_seconds"] == "red"  # 75 s against red at 60 s
    assert levels["holding_now"] == "ok"  # 1 holder; counts are never held back
