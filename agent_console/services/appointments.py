"""Booking, moving and cancelling for a resident on the phone, through madoguchi.booking."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_console.i18n import translate
from agent_console.services.actor import Actor
from madoguchi import booking
from madoguchi.booking import AlreadyBooked, BookingError, BookingNotFound, NotEligible
from madoguchi.models import Booking, Campaign, Site, utcnow

CHANNEL = "operator"
KNOWN_REASONS = ("campaign_closed", "slot_started", "age", "attended")


def sites(session: Session) -> list[Site]:
    """Every site, by code."""
    return list(session.scalars(select(Site).order_by(Site.code)))


def day_slots(
    session: Session, day: date, tz: ZoneInfo, *, site_id: int | None = None
) -> list[booking.SlotCount]:
    """The day's upcoming slots of active campaigns, counted from booking rows, soonest first."""
    start, end = booking.day_bounds(day, tz)
    active = set(session.scalars(select(Campaign.id).where(Campaign.active.is_(True))))
    now = utcnow()
    return [
        count
        for count in booking.slot_counts(session, start=start, end=end)
        if count.campaign_id in active
        and count.starts_at > now
        and (site_id is None or count.site_id == site_id)
    ]


def _own_booking(session: Session, resident_id: int, reference: str) -> Booking:
    found = booking.find_booking(session, reference)
    if found is None or found.resident_id != resident_id:
        raise BookingNotFound("no such booking for this resident", reference=reference)
    return found


def book_for(session: Session, actor: Actor, resident_id: int, slot_id: int) -> Booking:
    """Book the slot for the resident (channel 'operator'); audited whether it works or not."""
    try:
        made = booking.book(
            session, slot_id=slot_id, resident_id=resident_id, channel=CHANNEL,
            operator_id=actor.operator_id,
        )
    except BookingError as exc:
        session.rollback()
        actor.audit(session, "book_refused", "slot", slot_id, resident_id=resident_id,
                    detail={"code": exc.code})
        raise
    actor.audit(session, "book", "booking", made.reference, resident_id=resident_id,
                detail={"slot_id": slot_id})
    return made


def book_beyond_capacity_for(session: Session, actor: Actor, resident_id: int, slot_id: int,
                             reason: str) -> Booking:
    """A supervisor books the slot even when full, counted as an exception; audited either way."""
    try:
        made = booking.book_beyond_capacity(
            session, slot_id=slot_id, resident_id=resident_id, operator_id=actor.operator_id,
            reason=reason,
        )
    except BookingError as exc:
        session.rollback()
        actor.audit(session, "book_refused", "slot", slot_id, resident_id=resident_id,
                    detail={"code": exc.code, "beyond_capacity": True})
        raise
    actor.audit(session, "book_beyond_capacity" if made.overridden else "book", "booking",
                made.reference, resident_id=resident_id,
                detail={"slot_id": slot_id, "reason_given": bool(made.override_reason)})
    return made


def move_for(
    session: Session, actor: Actor, resident_id: int, reference: str, slot_id: int
) -> Booking:
    """Move the resident's booking to another slot of the same campaign; audited."""
    try:
        _own_booking(session, resident_id, reference)
        moved = booking.reschedule(session, reference, slot_id, operator_id=actor.operator_id)
    except BookingError as exc:
        session.rollback()
        actor.audit(session, "move_refused", "booking", reference, resident_id=resident_id,
                    detail={"code": exc.code, "slot_id": slot_id})
        raise
    actor.audit(session, "move", "booking", reference, resident_id=resident_id,
                detail={"slot_id": slot_id})
    return moved


def cancel_for(
    session: Session, actor: Actor, resident_id: int, reference: str, reason: str = ""
) -> Booking:
    """Cancel the resident's booking and free its place; audited."""
    try:
        _own_booking(session, resident_id, reference)
        cancelled = booking.cancel(
            session, reference, operator_id=actor.operator_id, reason=reason.strip() or None
        )
    except BookingError as exc:
        session.rollback()
        actor.audit(session, "cancel_refused", "booking", reference, resident_id=resident_id,
                    detail={"code": exc.code})
        raise
    actor.audit(session, "cancel", "booking", reference, resident_id=resident_id)
    return cancelled


def error_message(exc: BookingError, language: str | None = None) -> str:
    """What went wrong, in the operator's language, never a silent failure."""
    if isinstance(exc, AlreadyBooked):
        reference = exc.existing.reference if exc.existing is not None else "-"
        return translate("error_already_booked", language, reference=reference)
    if isinstance(exc, NotEligible):
        reason = exc.details.get("reason")
        if reason in KNOWN_REASONS:
            text = translate(f"reason_{reason}", language)
        elif "another campaign" in exc.message:
            text = translate("reason_other_campaign", language)
        else:
            text = exc.message
        return translate("error_not_eligible", language, reason=text)
    key = f"error_{exc.code}"
    try:
        return translate(key, language)
    except KeyError:
        return translate("error_booking_error", language, reason=exc.message)
