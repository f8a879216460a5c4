"""The core's repeating maintenance jobs: expired booking holds and the retention purge.

Jobs receive database ids only (never phone numbers or names) and run inside the app context
that `madoguchi worker` provides, so they reach the database through `madoguchi.db`.
"""

from __future__ import annotations

import logging

from madoguchi import booking, calls, retention
from madoguchi.db import database, session_scope
from madoguchi.periodic import PeriodicJob

log = logging.getLogger(__name__)


def release_expired_holds() -> int:
    """RQ job: give back the places of holds that were never confirmed; returns how many."""
    with session_scope(database()) as session:
        released = booking.release_expired_holds(session)
    if released:
        log.info("released %d expired hold(s)", released)
    return released


def fold_idle_call_moves() -> int:
    """RQ job: write the buffered menu moves of calls whose status callback never came."""
    with session_scope(database()) as session:
        folded = calls.fold_idle_moves(session)
    if folded:
        log.info("wrote the buffered moves of %d call(s) without a status callback", folded)
    return folded


# One week of minutes; a worker renews the chain whenever it has run out or failed.
HOLD_RELEASE = PeriodicJob(
    job_id="madoguchi-maintenance-release-expired-holds", func=release_expired_holds,
    interval_seconds=60, repeats=7 * 24 * 60, description="release expired booking holds")
# A year of days; renewed like the hold release when it has run out or failed.
RETENTION_PURGE = PeriodicJob(
    job_id="madoguchi-maintenance-retention-purge", func=retention.purge_due_records,
    interval_seconds=24 * 60 * 60, repeats=366,
    description="anonymise records past the retention period")

# A week of five-minute rounds, renewed like the others.
CALL_MOVES_SWEEP = PeriodicJob(
    job_id="madoguchi-maintenance-fold-call-moves", func=fold_idle_call_moves,
    interval_seconds=5 * 60, repeats=7 * 24 * 12,
    description="write buffered menu moves of calls that ended without a status")

PERIODIC_JOBS = (HOLD_RELEASE, RETENTION_PURGE, CALL_MOVES_SWEEP)
