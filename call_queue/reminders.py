"""Appointment reminders the day before: a text to a mobile, a short call (1 keeps, 5 cancels).

Each reminder is a row in the reminder ledger, unique per (booking, kind) and committed before
anything is sent, so a repeated job, a second worker or a retry never reminds anyone twice.
Reminders go out only in the daytime, in the city's time zone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from call_queue.pacing import OutboundPacer
from madoguchi import phone
from madoguchi.models import Booking, ReminderSent, Resident, ResidentPhone, Slot
from madoguchi.settings import Settings
from madoguchi.telephony.base import NetworkBusy, OutcomeUnknown, Telephony, TelephonyError

log = logging.getLogger(__name__)

KIND_DAY_BEFORE = "day_before"
# Nobody is called about tomorrow's appointment early in the morning or late in the evening.
SEND_FROM = time(10, 0)
SEND_UNTIL = time(19, 0)
RING_SECONDS = 40
# A reminder the network took but never said it had (it may have gone out).
UNKNOWN_OUTCOME = "unknown"


def in_sending_hours(settings: Settings, now: datetime) -> bool:
    """True during the daytime hours reminders may go out (city time)."""
    local = now.astimezone(settings.tz).time()
    return SEND_FROM <= local < SEND_UNTIL


def due_booking_ids(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Confirmed bookings starting tomorrow (city time) without a day-before reminder yet."""
    today = now.astimezone(settings.tz).date()
    start = datetime.combine(today + timedelta(days=1), time(0), settings.tz)
    end = start + timedelta(days=1)
    reminded = select(ReminderSent.booking_id).where(ReminderSent.kind == KIND_DAY_BEFORE)
    ids = session.scalars(
        select(Booking.id).join(Slot, Booking.slot_id == Slot.id).where(
            Booking.status == "confirmed", Slot.starts_at >= start, Slot.starts_at < end,
            Booking.id.not_in(reminded),
        ).order_by(Slot.starts_at, Booking.id)
    ).all()
    session.commit()
    return list(ids)


@dataclass(frozen=True)
class Contact:
    """Where a reminder goes: a number and whether it takes text messages."""

    e164: str
    mobile: bool


def contact_for(resident: Resident) -> Contact | None:
    """The resident's mobile if any (a text is least intrusive), else their first number."""
    phones: list[ResidentPhone] = list(resident.phones)
    mobile = next((p for p in phones if p.is_mobile or phone.is_mobile(p.e164)), None)
    if mobile is not None:
        return Contact(mobile.e164, True)
    return Contact(phones[0].e164, False) if phones else None


def send_reminder(session: Session, booking_id: int, *, settings: Settings,
                  telephony: Telephony, pacer: OutboundPacer, sms_text, now: datetime,
                  kind: str = KIND_DAY_BEFORE) -> ReminderSent | None:
    """Send one booking's reminder once; None when it was already sent (or is not due).

    Raises NetworkBusy when the network was too busy to take it: nothing went out, and the
    ledger forgets it, so a later run sends it.
    """
    booking = session.get(Booking, booking_id)
    if booking is None or booking.status != "confirmed":
        return None
    contact = contact_for(booking.resident)
    entry = ReminderSent(booking_id=booking_id, kind=kind, sent_at=now, status="sending",
                         channel="none" if contact is None else
                         ("sms" if contact.mobile else "voice"))
    session.add(entry)
    try:
        session.commit()  # the ledger first: a second run stops here
    except IntegrityError:
        session.rollback()
        return None
    try:
        entry.status = _reach(booking, entry, contact, settings=settings, telephony=telephony,
                              pacer=pacer, sms_text=sms_text)
    except NetworkBusy:
        session.delete(entry)
        session.commit()
        raise
    session.commit()
    log.info("reminder %s for booking %d: %s to %s", kind, booking_id, entry.status,
             phone.mask(contact.e164 if contact else None))
    return entry


def _reach(booking: Booking, entry: ReminderSent, contact: Contact | None, *,
           settings: Settings, telephony: Telephony, pacer: OutboundPacer, sms_text) -> str:
    """Text or ring the contact; the reminder's status (NetworkBusy passes through)."""
    if contact is None:
        return "no_phone"
    if contact.mobile:
        return _try(lambda: telephony.send_sms(contact.e164, sms_text(booking)), "sent")
    base = f"{settings.secrets.public_base_url}/voice/reminder"
    pacer.wait_turn()

    def dial() -> str:
        entry.call_sid = telephony.place_call(
            contact.e164, url=f"{base}/answer?reminder={entry.id}",
            status_callback=f"{base}/status?reminder={entry.id}",
            timeout_seconds=RING_SECONDS, machine_detection=True)
        return entry.call_sid

    return _try(dial, "calling")


def _try(send, success: str) -> str:
    try:
        send()
    except NetworkBusy:
        raise
    except OutcomeUnknown as exc:
        # It may have gone out: not "failed" (a call that did ring still notes how it ended).
        log.warning("reminder sent or not, the network did not say: %s", exc)
        return UNKNOWN_OUTCOME
    except TelephonyError as exc:
        log.warning("reminder could not be sent: %s", exc)
        return "failed"
    return success
