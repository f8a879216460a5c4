"""The metrics' definitions on a constructed hour, computed in Python and by the database."""

from __future__ import annotations

import pytest

from call_queue import line
from call_queue.line_metrics import definitions as d
from call_queue.line_metrics import live
from tests import factories
from tests.call_queue.line_metrics.history_fixture import HOUR, NOW, at, records, store

THRESHOLD = 60


def _expected_hour(summary: d.LineSummary) -> None:
    assert summary.calls == 9
    assert summary.finished == 8
    assert summary.self_served == 2
    assert summary.self_served_share == pytest.approx(0.25)
    assert summary.put_in_line == 5
    assert summary.wait_ended == 4
    assert summary.answered == 2
    assert summary.answered_within == 1
    assert summary.service_level == pytest.approx(0.25)
    assert summary.abandoned == 1
    assert summary.abandoned_rate == pytest.approx(0.25)
    assert summary.callbacks_taken == 1
    assert summary.average_speed_of_answer == pytest.approx(75.0)


def test_the_constructed_hour_gives_the_hand_computed_numbers():
    _expected_hour(d.summarize(records().values(), NOW - HOUR, NOW, THRESHOLD))


def test_the_database_computes_the_same_numbers_as_the_definitions(db_session):
    store(db_session, factories.operator(db_session).id)
    _expected_hour(live.line_summary(db_session, NOW - HOUR, NOW, THRESHOLD))


def test_a_caller_who_took_a_callback_is_not_abandoned_but_one_who_hung_up_is():
    calls = records()
    assert d.took_callback(calls["F"]) and not d.abandoned(calls["F"])
    assert d.abandoned(calls["E"]) and not d.took_callback(calls["E"])


def test_hanging_up_in_the_menu_is_neither_abandoning_the_line_nor_self_service():
    menu_hang_up = records()["H"]
    assert not d.abandoned(menu_hang_up)
    assert not d.self_served(menu_hang_up)


def test_service_level_counts_every_caller_whose_wait_ended_and_no_one_still_holding():
    calls = records()
    counted = [name for name, call in calls.items()
               if d.wait_ended(call) and NOW - HOUR <= call.queued_at < NOW]
    assert counted == ["C", "D", "E", "F"]
    assert not d.wait_ended(calls["G"])


def test_a_wait_of_exactly_the_threshold_counts_as_answered_within_it():
    call = d.CallRecord(at(9, 0), at(9, 0), at(9, 1), at(9, 5), "queued", 1)
    assert d.summarize([call], NOW - HOUR, NOW, 60).answered_within == 1
    assert d.summarize([call], NOW - HOUR, NOW, 59).answered_within == 0


def test_an_empty_hour_has_no_rates_rather_than_zero_percent():
    summary = d.summarize([], NOW - HOUR, NOW, THRESHOLD)
    assert summary.service_level is None
    assert summary.abandoned_rate is None
    assert summary.average_speed_of_answer is None
    assert summary.self_served_share is None


def test_holding_now_is_the_caller_still_in_line_with_the_longest_wait(db_session):
    store(db_session, factories.operator(db_session).id)
    holding = live.holding_now(db_session, NOW)
    assert holding.count == 1
    assert holding.longest_wait_seconds == pytest.approx(540)
    assert [name for name, call in records().items() if d.holding(call, NOW)] == ["G"]


def test_holding_now_agrees_with_the_line_the_dispatcher_serves(db_session):
    store(db_session, factories.operator(db_session).id)
    holders = [party for party in line.waiting_parties(db_session, NOW)
               if party.kind == "holding"]
    assert live.holding_now(db_session, NOW).count == len(holders)


def test_callbacks_are_overdue_once_their_promised_time_has_passed(db_session):
    store(db_session, factories.operator(db_session).id)
    callbacks = live.callbacks_waiting(db_session, NOW, promise_minutes=60)
    assert (callbacks.waiting, callbacks.overdue) == (3, 1)
    later = live.callbacks_waiting(db_session, at(10, 31), promise_minutes=60)
    assert (later.waiting, later.overdue) == (3, 2)


def test_arrivals_count_callers_put_in_line_and_callbacks_asked_for_in_the_menu(db_session):
    store(db_session, factories.operator(db_session).id)
    assert live.arrivals(db_session, at(9, 30), NOW) == 4  # E, F, G in line; K in the menu


def test_handle_times_are_the_talk_times_of_answered_calls_that_ended_in_the_window(db_session):
    store(db_session, factories.operator(db_session).id)
    assert live.handle_times(db_session, at(9, 30), NOW) == [pytest.approx(420)]
    assert sorted(live.handle_times(db_session, at(9, 0), NOW)) == [
        pytest.approx(390), pytest.approx(420)]
