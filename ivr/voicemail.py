"""Voicemail messages kept as inquiry cases, with the recording's address on the timeline."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

import prompts
from call_queue.callbacks import active_for as active_callback_for
from call_queue.callbacks import request_callback
from madoguchi import inquiries, phone
from madoguchi.models import RECORDING_EVENT, Inquiry, InquiryEvent, utcnow
from madoguchi.sealing import blind


def keep_voicemail(
    session: Session,
    *,
    recording_url: str,
    seconds: str,
    subject: str,
    call_sid: str | None,
    resident_id: int | None = None,
    contact_e164: str | None = None,
    due_hours: int,
) -> Inquiry:
    """Open a voicemail case for a recording, due in due_hours; a recording opens one case."""
    existing = case_of_recording(session, recording_url)
    if existing is not None:
        return existing
    now = utcnow()
    inquiry = inquiries.create(
        session, category="voicemail", subject=subject, channel="ivr", resident_id=resident_id,
        contact_e164=contact_e164, call_sid=call_sid,
        note=f"voicemail left on the phone line ({seconds or '?'} s)",
        due_at=inquiries.due_after(due_hours, now), now=now,
    )
    inquiry.events.append(InquiryEvent(kind=RECORDING_EVENT, text=recording_url, public=False))
    session.commit()
    return inquiry


def case_of_recording(session: Session, recording_url: str) -> Inquiry | None:
    """The case a recording already opened, if any."""
    return session.scalar(
        select(Inquiry)
        .join(InquiryEvent, InquiryEvent.inquiry_id == Inquiry.id)
        .where(InquiryEvent.kind == RECORDING_EVENT,
               blind.matches(InquiryEvent.recording_digest, "recording", recording_url))
    )


def keep_fallback_message(
    session: Session,
    *,
    recording_url: str,
    seconds: str,
    call_sid: str | None,
    from_raw: str | None,
    region: str,
    language: str,
    due_hours: int,
) -> Inquiry:
    """A message left on the fallback: a voicemail case, and a callback when the number is known.

    A retried message finds the same case and the callback already requested.
    """
    contact = phone.try_normalize(from_raw, region)
    subject = prompts.catalog(language).text("voicemail_subject")
    kept = keep_voicemail(session, recording_url=recording_url, seconds=seconds, subject=subject,
                          call_sid=call_sid, contact_e164=contact, due_hours=due_hours)
    if contact is not None and not _fallback_callback_requested(session, contact):
        request_callback(session, e164=contact, call_id=None, resident_id=None,
                         language=language, reason="fallback", window_start=None)
    return kept


def _fallback_callback_requested(session: Session, contact: str) -> bool:
    """True when the number already waits for a fallback callback (a retried message)."""
    active = active_callback_for(session, contact)
    return active is not None and active.reason == "fallback"
