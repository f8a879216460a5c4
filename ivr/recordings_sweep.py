"""Messages the network kept while the database was down, turned into cases once it is back.

The fallback answers without the database, so a message left there may exist only in the
network's recordings list. A repeating job reads that list and opens a voicemail case (and a
callback when the number is known) for every recording no case holds yet; a recording's address
is the key, so each becomes a case exactly once however often the job runs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm import Session

from ivr.voicemail import case_of_recording, keep_fallback_message
from madoguchi.db import database, session_scope
from madoguchi.models import utcnow
from madoguchi.periodic import PeriodicJob
from madoguchi.settings import Settings
from madoguchi.telephony import Telephony, TelephonyError, get_telephony

log = logging.getLogger(__name__)

# A recording this young may still be on its way to the webhook that keeps it.
SETTLE_SECONDS = 120


def collect_recordings(session: Session, telephony: Telephony, settings: Settings,
                       now: datetime | None = None) -> int:
    """Open a case for each settled recording within the look-back that no case holds; a count."""
    now = now or utcnow()
    since = now - timedelta(hours=settings.inquiries.recordings_lookback_hours)
    settled = now - timedelta(seconds=SETTLE_SECONDS)
    opened = 0
    for recording in sorted(telephony.recordings_since(since), key=lambda r: r.created_at):
        if recording.created_at > settled or case_of_recording(session, recording.url):
            continue
        try:
            caller = telephony.caller_of(recording.call_sid)
        except TelephonyError as exc:
            log.warning("caller of a kept recording unknown: %s", exc)
            caller = None
        keep_fallback_message(
            session, recording_url=recording.url, seconds=str(recording.seconds),
            call_sid=recording.call_sid, from_raw=caller, region=settings.city.region,
            language=settings.languages.default,
            due_hours=settings.inquiries.voicemail_due_hours,
        )
        opened += 1
    if opened:
        log.info("%d message(s) left while the database was away are now cases", opened)
    return opened


def collect_recordings_job() -> int:
    """RQ job: collect the network's recordings into cases; the number of cases opened."""
    with session_scope(database()) as session:
        return collect_recordings(session, get_telephony(), current_app.config["SETTINGS"])


COLLECT_RECORDINGS = PeriodicJob(
    job_id="madoguchi-collect-recordings", func=collect_recordings_job, interval_seconds=300,
    repeats=7 * 24 * 12,  # a week of five-minute runs; a worker renews the chain after
    description="collect messages left on the fallback into cases")

PERIODIC_JOBS = (COLLECT_RECORDINGS,)
