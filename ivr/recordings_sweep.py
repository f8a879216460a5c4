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
from madoguchi import phone
from madoguchi.db import database, session_scope
from madoguchi.models import utcnow
from madoguchi.periodic import PeriodicJob
from madoguchi.settings import Settings
from madoguchi.telephony import Telephony, TelephonyError, get_telephony

log = logging.getLogger(__name__)

# A recording this young may still be on its way to the webhook that keeps it.
SETTLE_SECONDS = 120


def our_line(settings: Settings) -> str | None:
    """The line's own number in E.164 (the number residents call), None when not configured."""
    raw = settings.secrets.twilio_phone_number or settings.city.phone_number
    return phone.try_normalize(raw, settings.city.region)


def collect_recordings(session: Session, telephony: Telephony, settings: Settings,
                       now: datetime | None = None) -> int:
    """Open a case for each settled recording within the look-back that no case holds; a count."""
    now = now or utcnow()
    since = now - timedelta(hours=settings.inquiries.recordings_lookback_hours)
    settled = now - timedelta(seconds=SETTLE_SECONDS)
    line = our_line(settings)
    opened = 0
    for recording in sorted(telephony.recordings_since(since), key=lambda r: r.created_at):
        if recording.created_at > settled or case_of_recording(session, recording.url):
            continue
        try:
            parties = telephony.parties_of(recording.call_sid)
        except TelephonyError as exc:
            # Looked at again on the next run: a recording is never opened unchecked.
            log.warning("a kept recording's call could not be read; trying later: %s", exc)
            continue
        called = phone.try_normalize(parties.to_number, settings.city.region)
        if line and called and called != line:
            continue  # the account's other numbers keep their own recordings
        keep_fallback_message(
            session, recording_url=recording.url, seconds=str(recording.seconds),
            call_sid=recording.call_sid, from_raw=parties.from_number,
            region=settings.city.region,
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
