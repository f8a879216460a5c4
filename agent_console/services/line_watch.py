"""The periodic check of the line's thresholds, run by a worker even when nobody watches.

Every 30 seconds the RQ job (WATCH) reads the line, records breaches (one alert per breach,
see alerts.record) and announces the new ones as configured: on the live screen, and by SMS to
the duty supervisor through the telephony seam.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from agent_console.i18n import translate
from agent_console.services.line_board import alert_sentence
from call_queue import line_services, operator_states
from call_queue.line_metrics import alerts, snapshot
from madoguchi import phone
from madoguchi.db import database, session_scope
from madoguchi.events import notify_line_changed
from madoguchi.models import utcnow
from madoguchi.periodic import PeriodicJob
from madoguchi.redis_conn import get_redis
from madoguchi.settings import Settings
from madoguchi.telephony import get_telephony

log = logging.getLogger(__name__)

def alert_sms_text(raised: alerts.Raised, settings: Settings) -> str:
    """The text the duty supervisor receives, in the line's default language."""
    language = settings.languages.default if settings.languages.default in ("ja", "en") else "ja"
    city = settings.city.name if language == "ja" else settings.city.name_en
    return translate("alert_sms", language, city=city, alert=alert_sentence(
        raised.metric, raised.level, raised.value, raised.threshold, language))


def check(session: Session, *, settings: Settings, operator_counts: dict[str, int],
          send_sms: Callable[[str, str], object], now: datetime) -> list[alerts.Raised]:
    """Read the line, record breaches, and announce each new one; returns what was raised."""
    reading = snapshot.take(session, settings=settings, operator_counts=operator_counts,
                            now=now)
    levels = reading.levels(settings)
    raised = alerts.record(session, levels, {metric: reading.value(metric) for metric in levels},
                           settings.supervisor.thresholds, now)
    config = settings.supervisor
    for alert in raised:
        channels = ["screen"] if "screen" in config.notify else []
        if "sms" in config.notify:
            number = phone.normalize(config.duty_supervisor_phone, settings.city.region)
            try:
                send_sms(number, alert_sms_text(alert, settings))
                channels.append("sms")
            except Exception as exc:  # the alert stays recorded and on screen
                log.warning("alert SMS to %s not sent: %s", phone.mask(number), exc)
                channels.append("sms-failed")
        alerts.mark_notified(session, alert.alert_id, channels)
        log.info("line alert: %s %s (%.1f against %.1f)", alert.metric, alert.level,
                 alert.value, alert.threshold)
    return raised


def check_line() -> int:
    """RQ job: check the thresholds now; returns how many alerts were raised."""
    settings = current_app.config["SETTINGS"]
    now = utcnow()
    with session_scope(database()) as session:
        board = line_services.board()
        operator_states.ensure_board(session, board)
        raised = check(session, settings=settings, operator_counts=board.counts(now),
                       send_sms=get_telephony().send_sms, now=now)
    if raised:
        notify_line_changed(get_redis())
    return len(raised)


WATCH = PeriodicJob(
    job_id="madoguchi-line-watch", func=check_line, interval_seconds=30,
    repeats=7 * 24 * 120,  # a week of half-minutes; a worker renews the chain after
    description="check the line's thresholds")

PERIODIC_JOBS = (WATCH,)
