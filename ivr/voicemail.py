"""Voicemail messages kept as inquiry cases, with the recording's address on the timeline."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from madoguchi import inquiries
from madoguchi.models import Inquiry, InquiryEvent
from madoguchi.sealing import blind

RECORDING_EVENT = "recording"


def keep_voicemail(
    session: Session,
    *,
    recording_url: str,
    seconds: str,
    subject: str,
    call_sid: str | None,
    resident_id: int | None = None,
    contact_e164: str | None = None,
) -> Inquiry:
    """Open a voicemail case for a recording; the same recording never opens a second case."""
    existing = session.scalar(
        select(Inquiry)
        .join(InquiryEvent, InquiryEvent.inquiry_id == Inquiry.id)
        .where(InquiryEvent.kind == RECORDING_EVENT,
               blind.matches(InquiryEvent.recording_digest, "recording", recording_url))
    )
    if existing is not None:
        return existing
    inquiry = inquiries.create(
        session, category="voicemail", subject=subject, channel="ivr", resident_id=resident_id,
        contact_e164=contact_e164, call_sid=call_sid,
        note=f"voicemail left on the phone line ({seconds or '?'} s)",
    )
    inquiry.events.append(InquiryEvent(kind=RECORDING_EVENT, text=recording_url, public=False))
    session.commit()
    return inquiry
