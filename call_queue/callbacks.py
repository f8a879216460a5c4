"""Callback requests: one active request per number, keeping the caller's place in the line."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import prompts
from madoguchi import calls, hours, phone
from madoguchi.models import ACTIVE_CALLBACK_STATUSES, Call, CallbackRequest, Inquiry, utcnow
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


# A callback the caller asked for on their caller ID, hung up before confirming.
UNCONFIRMED = "unconfirmed"


def soonest_start(settings: Settings, now: datetime) -> datetime | None:
    """When a callback asked for "as soon as possible" may be dialled: None for now, else the
    line's next opening (asked outside opening hours)."""
    opening = hours.next_opening(settings, now)
    return opening if opening and opening > now else None


def ask_for_callback(session: Session, settings: Settings, call: Call, *, number: str,
                     language: str, reason: str, window_start: datetime | None,
                     window_end: datetime | None, send_sms: Callable[[str, str], str],
                     now: datetime | None = None) -> CallbackRequest:
    """The caller's callback request, at the place they had in line if they held, and a text
    to a mobile saying so and which number will call."""
    request = request_callback(
        session, e164=number, call_id=call.id, resident_id=call.resident_id, language=language,
        reason=reason, window_start=window_start, window_end=window_end,
        arrival_at=call.queued_at, now=now)
    confirm_by_sms(request, settings, send_sms)
    return request


def settle_callback_outcome(session: Session, call: Call, settings: Settings,
                            send_sms: Callable[[str, str], str], now: datetime | None = None
                            ) -> CallbackRequest | None:
    """At a call's end: a callback the caller asked for and never finished asking.

    Many older callers hang up once they have chosen the callback (pressed its key while
    holding, or at the callback offer), before confirming their number or choosing a time;
    a holder has just heard that their place is kept. When the number to call is their own
    caller ID (read back to them and not refused), they are called back, at the place they
    had in line if they held, and a mobile is texted. A call counted as "callback" (a holder
    who left the line) that gets none counts as given up, so that calling again within the
    return window gives the place back; unless it left a voicemail, which is its callback.
    Returns the request made or found; None otherwise. Commits.
    """
    if session.scalar(select(exists().where(CallbackRequest.call_id == call.id))):
        return None  # the caller finished asking: the request is theirs already
    number = calls.recall(session, call, "callback_number")
    if not call.from_e164 or number != call.from_e164:
        if call.outcome == "callback" and not _left_a_voicemail(session, call):
            call.outcome = "abandoned"
            session.commit()
        return None
    calls.set_outcome(session, call, "callback")  # over "abandoned", never over "booked"
    current = active_for(session, number)
    if current is not None:
        # Their earlier place, without touching the window that request was given.
        if call.queued_at is not None and call.queued_at < current.arrival_at:
            current.arrival_at = call.queued_at
        session.commit()
        return current
    now = now or utcnow()
    request = ask_for_callback(
        session, settings, call, number=number,
        language=call.language or settings.languages.default, reason=UNCONFIRMED,
        window_start=soonest_start(settings, now), window_end=None, send_sms=send_sms, now=now)
    log.info("callback %d for call %d: asked for, the caller hung up before confirming it",
             request.id, call.id)
    return request


def _left_a_voicemail(session: Session, call: Call) -> bool:
    return bool(session.scalar(select(exists().where(
        Inquiry.call_sid == call.call_sid, Inquiry.category == "voicemail"))))


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
