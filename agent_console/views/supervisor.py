"""The supervisors' pages: the live line on a wall screen (pushed by SSE) and history charts."""

from __future__ import annotations

import json

from flask import render_template, request

from agent_console.blueprint import bp
from agent_console.i18n import current_language, translate
from agent_console.live_stream import sse_response
from agent_console.security import role_required
from agent_console.services import line_board, line_charts
from agent_console.views.common import parse_date, settings
from call_queue import line_services, operator_states
from call_queue.line_metrics import history, snapshot
from madoguchi.db import get_session
from madoguchi.models import utcnow
from madoguchi.redis_conn import get_redis


def _board(language: str) -> dict:
    """The live board now, in the given language."""
    session = get_session()
    now = utcnow()
    board = line_services.board()
    operator_states.ensure_board(session, board)
    reading = snapshot.take(session, settings=settings(), operator_counts=board.counts(now),
                            now=now)
    return line_board.board(reading, line_board.current_alerts(session), settings(), language)


@bp.get("/live")
@role_required("supervisor")
def live():
    """The live line: tiles, staffing advice and alerts, updated by the event stream."""
    return render_template("console/live.html", board=_board(current_language()))


@bp.get("/live/stream")
@role_required("supervisor")
def live_stream():
    """The live board as server-sent events, sent again whenever it changes."""
    language = current_language()
    return sse_response(lambda: _board(language), get_redis(), name="board")


@bp.get("/history")
@role_required("supervisor")
def history_charts():
    """Charts and tables of a day or a range of days (dates in the city's time zone)."""
    config = settings()
    today = utcnow().astimezone(config.tz).date()
    raw_from, raw_to = request.args.get("from"), request.args.get("to")
    first, last = parse_date(raw_from), parse_date(raw_to)
    error = None
    if (raw_from and first is None) or (raw_to and last is None):
        error = translate("history_bad_range", days=history.MAX_DAYS)
        first = last = today
    try:
        first, last = history.check_range(first, last, today)
    except history.RangeError:
        error = translate("history_bad_range", days=history.MAX_DAYS)
        first = last = today
    seconds = config.supervisor.service_level_seconds
    found = history.load(get_session(), first, last, config.tz, seconds)
    charts = line_charts.charts(found, config, current_language())
    return render_template(
        "console/history.html", charts=charts, charts_json=json.dumps(charts, ensure_ascii=False),
        first=first, last=last, error=error, zone=config.city.timezone, seconds=seconds,
        totals=line_charts.totals_text(found, current_language()),
    ), 400 if error else 200
