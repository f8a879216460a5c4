"""What happens on a reminder call: 1 keeps the booking, 5 then 1 cancels it, and how it ended.

The call names the appointment and whose it is, then asks. 1 keeps it. Cancelling takes 5 — a
key that means nothing else anywhere on the line (1-4 choose, 8 hears more, 9 repeats,
0 reaches a person) — then a read-back and 1 to confirm, so that one stray press never cancels.
Silence or another key asks again, shorter; after the line's usual number of re-prompts the
resident is put through to a person. The call never hangs up on them.

The reminder ledger row (see call_queue.reminders) records the resident's answer, or, when
nobody answered, the call's final status; a reminder is never sent again either way.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from call_queue.reminders import UNKNOWN_OUTCOME
from madoguchi import booking, calls
from madoguchi.models import ACTIVE_BOOKING_STATUSES, Booking, ReminderSent

CONFIRM_KEY, CANCEL_KEY = "1", "5"
YES_KEY, NO_KEY = "1", "2"
CANCEL_REASON = "cancelled on the reminder call"

# The two questions of the call.
ASK = "ask"  # keep it (1) or cancel it (5)?
CANCEL_OK = "cancel"  # the read-back: really cancel (1) or keep it (2)?
STAGES = (ASK, CANCEL_OK)

# What the resident chose (kept in the ledger).
CONFIRMED = "confirmed"
CANCELLED = "cancelled"
UNKNOWN = "unknown"  # no such reminder (or its booking is gone)

# What the call does next.
KEEP = "keep"  # 1: thank and say goodbye
READ_BACK = "read_back"  # 5: read the appointment back and ask to confirm the cancellation
CANCEL = "cancel"  # 1 after the read-back: cancel, say so, and how to book again
NOT_CANCELLED = "not_cancelled"  # 2 after the read-back: say it stays, ask the first question
REPEAT = "repeat"  # 9: the same question again, not counted
PERSON = "person"  # 0, or no usable answer after the last re-prompt
AGAIN = "again"  # silence or another key: re-ask shorter, counted


@dataclass(frozen=True)
class Next:
    """Where an answer leads: the move, and for AGAIN the cue and the new attempt count."""

    move: str
    cue: str = ""
    attempt: int = 0


# The spoken answers each question understands, as the keys they stand for.
SPOKEN = {
    ASK: {"yes": CONFIRM_KEY, "keep": CONFIRM_KEY, "cancel": CANCEL_KEY},
    # Not "cancel" here: 取り消さない ("do not cancel") contains the word for cancelling.
    CANCEL_OK: {"yes": YES_KEY, "no": NO_KEY, "keep": NO_KEY},
}
ANSWERS = {
    ASK: {CONFIRM_KEY: KEEP, CANCEL_KEY: READ_BACK},
    CANCEL_OK: {YES_KEY: CANCEL, NO_KEY: NOT_CANCELLED},
}


def decide(stage: str, key: str, *, attempt: int, max_retries: int, repeat_key: str,
           operator_key: str) -> Next:
    """The next move for a key ("" for silence) on a question of the reminder call."""
    if key == operator_key:
        return Next(PERSON)
    if key == repeat_key:
        return Next(REPEAT, attempt=attempt)
    move = ANSWERS[stage].get(key) if key else None
    if move is not None:
        return Next(move)
    if attempt + 1 > max_retries:
        return Next(PERSON)
    return Next(AGAIN, "wrong_key" if key else "not_heard", attempt + 1)


def reminded_booking(session: Session, reminder_id: int) -> tuple[ReminderSent, Booking] | None:
    """The reminder and the booking it is about; None when either is gone."""
    entry = session.get(ReminderSent, reminder_id)
    kept = session.get(Booking, entry.booking_id) if entry else None
    return (entry, kept) if entry is not None and kept is not None else None


def still_active(kept: Booking) -> bool:
    """True while the booking can still be kept or cancelled."""
    return kept.status in ACTIVE_BOOKING_STATUSES


def keep(session: Session, reminder_id: int) -> str:
    """The resident will come: note it on the reminder (the booking stays as it is)."""
    found = reminded_booking(session, reminder_id)
    if found is None:
        return UNKNOWN
    found[0].status = CONFIRMED
    session.commit()
    return CONFIRMED


def cancel(session: Session, reminder_id: int) -> str:
    """Cancel the reminded booking after the resident confirmed it; a retry changes nothing."""
    found = reminded_booking(session, reminder_id)
    if found is None:
        return UNKNOWN
    entry, kept = found
    booking.cancel(session, kept.reference, reason=CANCEL_REASON)
    entry.status = CANCELLED
    session.commit()
    return CANCELLED


def call_ended(session: Session, reminder_id: int, call_status: str,
               call_sid: str | None = None) -> None:
    """A reminder call that was still ringing notes its final status (answered, busy, …).

    call_sid, the ended call's, is kept when the ledger has none (the network never said
    it had placed the call).
    """
    entry = session.get(ReminderSent, reminder_id)
    if entry is not None and entry.status in ("calling", UNKNOWN_OUTCOME) \
            and call_status in calls.FINAL_STATUSES:
        entry.status = "answered" if call_status == "completed" else call_status
        entry.call_sid = entry.call_sid or call_sid
        session.commit()
