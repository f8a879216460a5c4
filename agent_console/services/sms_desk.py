"""Text messages from the console to a resident's mobile: a booking confirmation or a short note."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

import prompts
from agent_console.services.actor import Actor
from madoguchi import phone
from madoguchi.models import (
    ACTIVE_BOOKING_STATUSES,
    Booking,
    Resident,
    ResidentPhone,
    TextMessage,
)
from madoguchi.settings import Settings
from madoguchi.telephony.base import OutcomeUnknown, Telephony, TelephonyError
from madoguchi.voice.speech import Speaker

# A few SMS segments at most (Japanese text goes 70 characters a segment).
MAX_TEXT_LENGTH = 140
KINDS = ("booking", "text")


class SmsRefused(ValueError):
    """The text was not sent; `key` names the console message saying why and what to do."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class SentSms:
    """A text that the phone network accepted."""

    sid: str
    masked_to: str
    national_to: str
    body: str


@dataclass(frozen=True)
class SmsChoices:
    """What the form offers for a resident: their numbers and their active bookings."""

    phones: list[tuple[ResidentPhone, bool]]
    bookings: list[Booking]

    @property
    def has_mobile(self) -> bool:
        """True when at least one of the numbers can receive a text."""
        return any(mobile for _, mobile in self.phones)


def choices(session: Session, resident_id: int) -> SmsChoices:
    """The resident's numbers (each with whether it is a mobile) and active bookings."""
    phones = list(session.scalars(
        select(ResidentPhone).where(ResidentPhone.resident_id == resident_id)
        .order_by(ResidentPhone.is_mobile.desc(), ResidentPhone.id)))
    bookings = list(session.scalars(
        select(Booking).where(Booking.resident_id == resident_id,
                              Booking.status.in_(ACTIVE_BOOKING_STATUSES))
        .order_by(Booking.id)))
    return SmsChoices(phones=[(row, phone.is_mobile(row.e164)) for row in phones],
                      bookings=bookings)


def _language(settings: Settings, resident: Resident) -> str:
    offered = settings.languages.offered
    return resident.language if resident.language in offered else settings.languages.default


def compose(settings: Settings, resident: Resident, *, kind: str, booking: Booking | None = None,
            text: str = "") -> str:
    """The message in the resident's language, worded as the phone line's own texts are."""
    lang = _language(settings, resident)
    speaker = Speaker(prompts.catalog(lang), settings.tz, settings.menu.pause_ms)
    city = settings.city.name if lang == "ja" else settings.city.name_en
    if kind == "booking" and booking is not None:
        place = booking.slot.site.name if lang == "ja" else booking.slot.site.name_en
        return speaker.catalog.text("sms_booked", city=city, when=speaker.when(
            booking.slot.starts_at), place=place, code=booking.reference)
    return speaker.catalog.text("sms_from_desk", city=city, text=text)


def _mobile_of(session: Session, resident_id: int, phone_id: int | None) -> str:
    row = session.get(ResidentPhone, phone_id) if phone_id else None
    if row is None or row.resident_id != resident_id:
        raise SmsRefused("sms_number_unknown")
    if not phone.is_mobile(row.e164):
        raise SmsRefused("sms_landline", number=phone.mask(row.e164))
    return row.e164


def _booking_of(session: Session, resident_id: int, reference: str | None) -> Booking:
    found = session.scalar(select(Booking).where(
        Booking.reference == (reference or "").strip(), Booking.resident_id == resident_id,
        Booking.status.in_(ACTIVE_BOOKING_STATUSES)))
    if found is None:
        raise SmsRefused("sms_booking_missing")
    return found


def _checked_text(text: str | None) -> str:
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise SmsRefused("sms_text_empty")
    if len(cleaned) > MAX_TEXT_LENGTH:
        raise SmsRefused("sms_text_too_long", length=len(cleaned), max=MAX_TEXT_LENGTH)
    return cleaned


def send(session: Session, actor: Actor, settings: Settings, telephony: Telephony, *,
         resident_id: int, phone_id: int | None, kind: str, reference: str | None = None,
         text: str | None = None) -> SentSms:
    """Check, send, keep (sealed) and audit one text; raises SmsRefused before anything is sent.

    The message and its number are kept sealed in text_messages; the audit row names the
    message by id with the number masked, so the append-only log holds nothing a key protects.
    """
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise SmsRefused("not_found")
    if kind not in KINDS:
        raise SmsRefused("form_invalid")
    to = _mobile_of(session, resident_id, phone_id)
    booking = _booking_of(session, resident_id, reference) if kind == "booking" else None
    body = compose(settings, resident, kind=kind, booking=booking,
                   text=_checked_text(text) if kind == "text" else "")
    kept = TextMessage(resident_id=resident.id, operator_id=actor.operator_id, kind=kind,
                       to_e164=to, body=body, status="sending")
    session.add(kept)
    session.commit()
    detail = {"to": phone.mask(to), "kind": kind, "message_id": kept.id,
              "booking": booking.reference if booking else None}
    try:
        sid = telephony.send_sms(to, body)
    except OutcomeUnknown as exc:
        # It may have reached the resident: kept as unknown, and the operator told not to
        # send it again at once (an elderly resident confused by two texts calls back).
        kept.status, kept.error = "unknown", str(exc)
        session.commit()
        actor.audit(session, "sms_unknown", "resident", resident.id, resident_id=resident.id,
                    detail=detail)
        raise SmsRefused("sms_unknown") from None
    except TelephonyError as exc:
        kept.status, kept.error = "failed", str(exc)
        session.commit()
        actor.audit(session, "sms_failed", "resident", resident.id, resident_id=resident.id,
                    detail=detail)
        raise SmsRefused("sms_failed", reason=str(exc)) from None
    kept.status, kept.sid = "sent", sid
    session.commit()
    actor.audit(session, "send_sms", "resident", resident.id, resident_id=resident.id,
                detail={**detail, "sid": sid})
    return SentSms(sid=sid, masked_to=phone.mask(to), national_to=phone.national(to), body=body)
