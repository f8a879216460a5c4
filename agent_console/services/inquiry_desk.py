"""Inquiries at the console: filtered lists, logging a new one, updating status and assignment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from agent_console.services.actor import Actor
from madoguchi import inquiries, inquiry_categories, phone
from madoguchi.inquiries import InquiryError
from madoguchi.models import (
    INQUIRY_STATUSES,
    RECORDING_EVENT,
    Inquiry,
    InquiryEvent,
    Operator,
    utcnow,
)
from madoguchi.settings import InquirySettings
from madoguchi.telephony import Telephony
from madoguchi.telephony.base import RecordingAudio, RecordingNotFound

CHANNEL = "operator"
LIST_LIMIT = 200


class InvalidContactPhone(InquiryError):
    """The contact number typed for an inquiry is not a phone number."""


@dataclass(frozen=True)
class InquiryFilter:
    """What the inquiry list shows: a status, a category, only overdue ones."""

    status: str = ""
    category: str = ""
    overdue: bool = False


def list_inquiries(session: Session, chosen: InquiryFilter, now: datetime | None = None
                   ) -> list[Inquiry]:
    """Inquiries matching the filter, newest first (at most LIST_LIMIT)."""
    now = now or utcnow()
    query = select(Inquiry).order_by(Inquiry.created_at.desc()).limit(LIST_LIMIT)
    if chosen.status in INQUIRY_STATUSES:
        query = query.where(Inquiry.status == chosen.status)
    if chosen.category:
        query = query.where(Inquiry.category == chosen.category)
    if chosen.overdue:
        query = query.where(Inquiry.due_at.is_not(None), Inquiry.due_at < now,
                            Inquiry.status != "done")
    return list(session.scalars(query))


def is_overdue(inquiry: Inquiry, now: datetime | None = None) -> bool:
    """True when the inquiry is past its due time and not done."""
    now = now or utcnow()
    return inquiry.status != "done" and inquiry.due_at is not None and inquiry.due_at < now


def due_at(day: date | None, tz: ZoneInfo) -> datetime | None:
    """The end of the chosen local day, as an aware datetime (None when no day is chosen)."""
    if day is None:
        return None
    return datetime.combine(day, time(0, 0), tzinfo=tz) + timedelta(days=1, seconds=-1)


def _check_assignee(session: Session, operator_id: int | None) -> int | None:
    if not operator_id:
        return None
    operator = session.get(Operator, operator_id)
    if operator is None or not operator.active:
        raise InquiryError("the chosen person cannot be assigned: choose an active user")
    return operator.id


def create(
    session: Session,
    actor: Actor,
    *,
    config: InquirySettings,
    category: str,
    subject: str,
    note: str = "",
    contact_phone: str = "",
    resident_id: int | None = None,
    assigned_to_id: int | None = None,
    due: datetime | None = None,
    region: str = "JP",
) -> Inquiry:
    """Log a new inquiry with a public reference number; raises InquiryError saying what to fix."""
    category = inquiry_categories.require(config, category)
    contact_e164 = None
    if contact_phone.strip():
        contact_e164 = phone.try_normalize(contact_phone, region)
        if contact_e164 is None:
            raise InvalidContactPhone("the contact number is not a phone number")
    assignee = _check_assignee(session, assigned_to_id)
    inquiry = inquiries.create(
        session, category=category, subject=subject, channel=CHANNEL, resident_id=resident_id,
        contact_e164=contact_e164, operator_id=actor.operator_id, note=note,
    )
    if assignee is not None or due is not None:
        inquiry.assigned_to_id = assignee
        inquiry.due_at = due
        session.commit()
    actor.audit(session, "create", "inquiry", inquiry.reference, resident_id=resident_id)
    return inquiry


def update(
    session: Session,
    actor: Actor,
    inquiry: Inquiry,
    *,
    config: InquirySettings,
    status: str,
    category: str,
    assigned_to_id: int | None,
    due: datetime | None,
    note: str = "",
    public_text: str = "",
) -> Inquiry:
    """Change status, category, assignment and due date; add a note and a public update."""
    if category != inquiry.category:
        category = inquiry_categories.require(config, category)
    changes = []
    assignee = _check_assignee(session, assigned_to_id)
    if assignee != inquiry.assigned_to_id:
        inquiry.assigned_to_id = assignee
        changes.append("assigned_to")
    if category != inquiry.category:
        inquiry.category = category
        changes.append("category")
    if due != inquiry.due_at:
        inquiry.due_at = due
        changes.append("due_at")
    if status != inquiry.status:
        changes.append("status")
    if public_text.strip():
        changes.append("public_update")
    inquiries.set_status(session, inquiry, status, operator_id=actor.operator_id,
                         public_text=public_text)
    if note.strip():
        inquiries.add_note(session, inquiry, note, operator_id=actor.operator_id)
        changes.append("note")
    actor.audit(session, "update", "inquiry", inquiry.reference,
                resident_id=inquiry.resident_id, detail={"changed": changes})
    return inquiry


def open_inquiry(session: Session, actor: Actor, inquiry_id: int) -> Inquiry | None:
    """One inquiry for its page; audited when it belongs to a resident."""
    inquiry = session.get(Inquiry, inquiry_id)
    if inquiry is not None:
        actor.audit(session, "view", "inquiry", inquiry.reference,
                    resident_id=inquiry.resident_id)
    return inquiry


def play_recording(session: Session, actor: Actor, inquiry_id: int, event_id: int,
                   telephony: Telephony) -> RecordingAudio:
    """A case's recording fetched from the network for the console (audited).

    Raises RecordingNotFound when the case has no such recording or the network no longer
    keeps it; TelephonyError when the network cannot be reached.
    """
    event = session.get(InquiryEvent, event_id)
    if event is None or event.inquiry_id != inquiry_id or event.kind != RECORDING_EVENT:
        raise RecordingNotFound("this case has no such recording")
    inquiry = event.inquiry
    actor.audit(session, "listen", "inquiry", inquiry.reference,
                resident_id=inquiry.resident_id, detail={"event": event.id})
    return telephony.fetch_recording(event.text)


def recordings(inquiry: Inquiry) -> list[InquiryEvent]:
    """The timeline entries of a case that hold a recording, oldest first."""
    return [event for event in inquiry.events if event.kind == RECORDING_EVENT]


def spoken_reference(reference: str) -> str:
    """The reference in groups of four digits, easy to read out to a caller."""
    return " ".join(reference[i:i + 4] for i in range(0, len(reference), 4))
