"""Callback requests taken on the phone line: one active request per number, keeping its place."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from madoguchi.models import ACTIVE_CALLBACK_STATUSES, CallbackRequest, utcnow


def _active_for(session: Session, e164: str) -> CallbackRequest | None:
    return session.scalar(
        select(CallbackRequest).where(
            CallbackRequest.phone_e164 == e164,
            CallbackRequest.status.in_(ACTIVE_CALLBACK_STATUSES),
        )
    )


def request_callback(
    session: Session,
    *,
    e164: str,
    call_id: int | None,
    resident_id: int | None,
    language: str,
    reason: str,
    window_start: datetime | None,
    now: datetime | None = None,
) -> CallbackRequest:
    """Create the number's callback request, or update its active one (keeping its arrival)."""
    now = now or utcnow()
    for _ in range(2):
        request = _active_for(session, e164)
        if request is None:
            request = CallbackRequest(
                phone_e164=e164, status="waiting", arrival_at=now, attempts=0, created_at=now
            )
            session.add(request)
        request.call_id = call_id
        request.resident_id = resident_id or request.resident_id
        request.language = language
        request.reason = reason[:40]
        request.window_start = window_start
        request.next_attempt_at = window_start or now
        request.updated_at = now
        try:
            session.commit()
            return request
        except IntegrityError:
            # Another request for the same number was created at the same moment: update it.
            session.rollback()
    raise RuntimeError("could not record the callback request")
