"""Callback requests: one active request per number, keeping the caller's place in the line."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from madoguchi.models import ACTIVE_CALLBACK_STATUSES, CallbackRequest, utcnow


def active_for(session: Session, e164: str) -> CallbackRequest | None:
    """The number's request still waiting, being dialled or connected, if any."""
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
    arrival_at: datetime | None = None,
    now: datetime | None = None,
) -> CallbackRequest:
    """Create the number's callback request, or update its active one (keeping the earlier place).

    `arrival_at` is when the caller first asked for a person (a holder who leaves the line for
    a callback keeps the place they had); it defaults to now.
    """
    now = now or utcnow()
    arrival_at = arrival_at or now
    for _ in range(2):
        request = active_for(session, e164)
        if request is None:
            request = CallbackRequest(
                phone_e164=e164, status="waiting", arrival_at=arrival_at, attempts=0,
                created_at=now,
            )
            session.add(request)
        elif arrival_at < request.arrival_at:
            request.arrival_at = arrival_at
        request.call_id = call_id
        request.resident_id = resident_id or request.resident_id
        request.language = language
        request.reason = reason[:40]
        if request.status == "waiting":
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
