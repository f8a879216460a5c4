"""What happens on a reminder call: 1 confirms, 9 cancels the booking, and how the call ended.

The reminder ledger row (see call_queue.reminders) records the resident's answer, or, when
nobody answered, the call's final status; a reminder is never sent again either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from madoguchi import booking, calls
from madoguchi.models import Booking, ReminderSent

CONFIRM_KEY, CANCEL_KEY = "1", "9"
CANCEL_REASON = "cancelled on the reminder call"

# What the resident chose.
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
UNDECIDED = "undecided"  # any other key, or none
UNKNOWN = "unknown"  # no such reminder (or its booking is gone)


@dataclass(frozen=True)
class Choice:
    """The resident's answer on the reminder call, and their language (None when unknown)."""

    outcome: str
    language: str | None


def reminded_booking(session: Session, reminder_id: int) -> tuple[ReminderSent, Booking] | None:
    """The reminder and the booking it is about; None when either is gone."""
    entry = session.get(ReminderSent, reminder_id)
    kept = session.get(Booking, entry.booking_id) if entry else None
    return (entry, kept) if entry is not None and kept is not None else None


def choose(session: Session, reminder_id: int, digits: str) -> Choice:
    """1 confirms, 9 cancels the booking; anything else leaves it as it is."""
    found = reminded_booking(session, reminder_id)
    if found is None:
        return Choice(UNKNOWN, None)
    entry, kept = found
    language = kept.resident.language
    if digits == CONFIRM_KEY:
        entry.status = CONFIRMED
        session.commit()
        return Choice(CONFIRMED, language)
    if digits == CANCEL_KEY:
        booking.cancel(session, kept.reference, reason=CANCEL_REASON)
        entry.status = CANCELLED
        session.commit()
        return Choice(CANCELLED, language)
    return Choice(UNDECIDED, language)


def call_ended(session: Session, reminder_id: int, call_status: str) -> None:
    """A reminder call that was still ringing notes its final status (answered, busy, …)."""
    entry = session.get(ReminderSent, reminder_id)
    if entry is not None and entry.status == "calling" and call_status in calls.FINAL_STATUSES:
        entry.status = "answered" if call_status == "completed" else call_status
        session.commit()
