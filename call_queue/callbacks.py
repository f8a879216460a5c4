"""Callback requests: one active request per number, keeping the caller's place in the line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import prompts
from madoguchi import phone
from madoguchi.models import ACTIVE_CALLBACK_STATUSES, CallbackRequest, utcnow
from madoguchi.sealing import blind
from madoguchi.settings import Settings

log = logging.getLogger(__name__)


def active_for(session: Session, e164: str) -> CallbackRequest | None:
    """The number's request still waiting, being dialled or connected, if any."""
    return session.scalar(
        select(CallbackRequest).where(
            blind.matches(CallbackRequest.phone_digest, "phone", e164),
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
    window_end: datetime | None = None,
    arrival_at: datetime | None = None,
    now: datetime | None = None,
) -> CallbackRequest:
    """Create the number's callback request, or update its active one (keeping the earlier place).

    `arrival_at` is when the caller first asked for a person (a holder who leaves the line for
    a callback keeps the place they had); it defaults to now. A window (start, end) chosen by
    the caller keeps the request out of dialling until it opens.
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
            request.window_end = window_end
            request.next_attempt_at = window_start or now
        request.updated_at = now
        try:
            session.commit()
            return request
        except IntegrityError:
            # Another request for the same number was created at the same moment: update it.
            session.rollback()
    raise RuntimeError("could not record the callback request")


def calling_e164(settings: Settings) -> str | None:
    """The number our callbacks come from, E.164 (None when not configured)."""
    raw = settings.secrets.twilio_phone_number or settings.city.phone_number
    return phone.try_normalize(raw, settings.city.region)


def calling_number(settings: Settings) -> str | None:
    """The number our callbacks come from, as written at home (None when not configured)."""
    number = calling_e164(settings)
    return phone.national(number) if number else None


def confirm_by_sms(request: CallbackRequest, settings: Settings,
                   send_sms: Callable[[str, str], str]) -> bool:
    """Text a mobile that its callback is booked and which number will call; True if sent."""
    if not phone.is_mobile(request.phone_e164):
        return False
    catalog = prompts.catalog(request.language if request.language in settings.languages.offered
                              else settings.languages.default)
    city = settings.city.name if catalog.code == "ja" else settings.city.name_en
    number = calling_number(settings) or ""
    if request.window_start is not None and request.window_end is not None:
        start = request.window_start.astimezone(settings.tz)
        end = request.window_end.astimezone(settings.tz)
        # A text is read later, so it names the date rather than "today" or "tomorrow".
        body = catalog.text("callback_sms_taken_window", city=city, number=number,
                            month=start.month, day=start.day,
                            start=start.strftime("%H:%M"), end=end.strftime("%H:%M"))
    else:
        body = catalog.text("callback_sms_taken", city=city, number=number)
    try:
        send_sms(request.phone_e164, body)
    except Exception as exc:  # a courtesy text never fails the callback request itself
        log.warning("callback confirmation to %s not sent: %s", phone.mask(request.phone_e164),
                    exc)
        return False
    return True
