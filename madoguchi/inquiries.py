"""Cases: a resident's question or report, its status, timeline and public reference number."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from madoguchi.codes import new_inquiry_code
from madoguchi.models import INQUIRY_STATUSES, Inquiry, InquiryEvent, utcnow


class InquiryError(ValueError):
    """An inquiry change was refused; the message says why."""


def create(
    session: Session,
    *,
    category: str,
    subject: str,
    channel: str,
    resident_id: int | None = None,
    contact_e164: str | None = None,
    operator_id: int | None = None,
    call_sid: str | None = None,
    note: str = "",
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> Inquiry:
    """Open a new case with status 'received' and a fresh reference number; commits."""
    now = now or utcnow()
    if not category.strip() or not subject.strip():
        raise InquiryError("category and subject are required")
    for _ in range(5):
        inquiry = Inquiry(
            reference=new_inquiry_code(),
            resident_id=resident_id,
            category=category.strip(),
            subject=subject.strip(),
            status="received",
            channel=channel,
            contact_e164=contact_e164,
            call_sid=call_sid,
            due_at=due_at,
            created_at=now,
            updated_at=now,
        )
        inquiry.events.append(
            InquiryEvent(kind="created", text=note, public=False, operator_id=operator_id, at=now)
        )
        session.add(inquiry)
        try:
            session.commit()
            return inquiry
        except IntegrityError:
            # Only the random reference can collide: draw another.
            session.rollback()
    raise InquiryError("could not draw a unique reference number")


def due_after(hours: int, now: datetime | None = None) -> datetime:
    """The due time of a case opened now that the city promises to work within `hours`."""
    return (now or utcnow()) + timedelta(hours=hours)


def find(session: Session, reference: str) -> Inquiry | None:
    """The inquiry with this reference number, if any."""
    return session.scalar(select(Inquiry).where(Inquiry.reference == reference))


def set_status(
    session: Session,
    inquiry: Inquiry,
    status: str,
    *,
    operator_id: int | None = None,
    public_text: str = "",
    now: datetime | None = None,
) -> Inquiry:
    """Move a case to received / in_progress / done, with an optional public update; commits."""
    if status not in INQUIRY_STATUSES:
        raise InquiryError(f"status must be one of {', '.join(INQUIRY_STATUSES)}")
    now = now or utcnow()
    if status != inquiry.status:
        inquiry.events.append(
            InquiryEvent(kind="status", text=status, operator_id=operator_id, at=now)
        )
        inquiry.status = status
        inquiry.closed_at = now if status == "done" else None
    if public_text.strip():
        inquiry.events.append(
            InquiryEvent(
                kind="public_update", text=public_text.strip(), public=True,
                operator_id=operator_id, at=now,
            )
        )
    inquiry.updated_at = now
    session.commit()
    return inquiry


def add_note(
    session: Session, inquiry: Inquiry, text: str, *, operator_id: int | None = None,
    public: bool = False,
) -> InquiryEvent:
    """Add a staff note (or a public update when public=True) to the timeline; commits."""
    if not text.strip():
        raise InquiryError("a note cannot be empty")
    event = InquiryEvent(
        kind="public_update" if public else "note", text=text.strip(), public=public,
        operator_id=operator_id,
    )
    inquiry.events.append(event)
    inquiry.updated_at = utcnow()
    session.commit()
    return event


def open_for_resident(session: Session, resident_id: int) -> list[Inquiry]:
    """A resident's cases not yet done, newest first."""
    return list(session.scalars(
        select(Inquiry)
        .where(Inquiry.resident_id == resident_id, Inquiry.status != "done")
        .order_by(Inquiry.created_at.desc(), Inquiry.id.desc())
    ))


def last_public_update(inquiry: Inquiry) -> InquiryEvent | None:
    """The newest timeline entry that may be read to the resident."""
    public = [event for event in inquiry.events if event.public]
    return public[-1] if public else None
