"""The supervisors' live page, its event stream and the history charts, and who may open them."""

from __future__ import annotations

import json

import pytest

from tests.call_queue.line_metrics.history_fixture import store

SUPERVISOR_PAGES = ("/console/live", "/console/live/stream", "/console/history")


@pytest.mark.parametrize("path", SUPERVISOR_PAGES)
def test_an_operator_is_refused_the_supervisors_pages(as_operator, path):
    assert as_operator.get(path).status_code == 403


def test_the_live_page_shows_every_tile_and_states_the_service_level_definition(as_supervisor):
    page = as_supervisor.get("/console/live")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for tile in ("holding_now", "longest_wait_seconds", "callbacks_waiting", "callbacks_overdue",
                 "service_level_percent", "average_speed_of_answer_seconds",
                 "abandoned_rate_percent", "calls_last_hour", "self_served_share",
                 "operators_available", "operators_on_call", "operators_wrap_up",
                 "operators_away"):
        assert f'data-tile="{tile}"' in html
    assert "60秒以内に係の人が出た割合" in html
    assert "折り返しを選んだ方は含みません" in html
    assert "<script>" not in html  # CSP: our own script files only


def test_the_stream_sends_the_board_as_an_event_at_once(as_supervisor):
    response = as_supervisor.get("/console/live/stream")
    assert response.mimetype == "text/event-stream"
    chunks = iter(response.response)
    assert next(chunks).startswith(b"retry:")
    message = next(chunks).decode()
    response.close()
    assert message.startswith("event: board\n")
    board = json.loads("".join(line.removeprefix("data: ")
                               for line in message.splitlines()[1:] if line))
    assert board["tiles"]["holding_now"] == {"text": "0", "level": "ok", "note": "",
                                             "level_text": ""}
    assert set(board["staffing"]) >= {"needed", "on_duty", "verdict", "basis"}


def test_the_history_of_a_day_tells_the_numbers_of_its_calls(as_supervisor, db_session, staff):
    store(db_session, staff.operator.id)
    page = as_supervisor.get("/console/history?from=2026-11-20&to=2026-11-20")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # 18:00-19:00 in Tokyo: 10 inbound calls, C, D and I answered (I and C within 60 s).
    assert "電話 10件、応答 3件、放棄 1件、折り返し 1件、自動音声で完了 2件" in html
    assert "サービスレベル 40%、平均応答時間 0:57" in html
    for chart in ("volume", "waits", "service-level", "callbacks"):
        assert f'id="chart-{chart}"' in html and f'id="table-{chart}"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html
    # 18:15 in Tokyo: D answered (the table under the volume chart).
    row = '<th scope="row">18:15</th>\n          <td>1</td><td>0</td><td>0</td><td>0</td>'
    assert row in html


def test_a_reversed_range_is_refused_with_what_to_write_instead(as_supervisor):
    page = as_supervisor.get("/console/history?from=2026-11-20&to=2026-11-01")
    assert page.status_code == 400
    assert "2026-11-20 の形で" in page.get_data(as_text=True)


def test_a_malformed_date_is_refused_with_what_to_write_instead(as_supervisor):
    page = as_supervisor.get("/console/history?from=20-11-2026")
    assert page.status_code == 400
    assert "31日まで" in page.get_data(as_text=True)


def test_the_live_page_speaks_english_to_an_english_speaking_user(as_admin):
    html = as_admin.get("/console/live").get_data(as_text=True)
    assert "Answered by an operator within 60 s" in html
    assert "Callers who chose a callback are not counted" in html
    assert "Staffing advice" in html
