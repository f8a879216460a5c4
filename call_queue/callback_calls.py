"""Placing callbacks: one dial per attempt, exactly once, then retry or report unreached.

The CallbackAttempt row (unique per request and attempt number) is committed before the
number is dialled, so a job retried by RQ, a restarted worker or a duplicated status callback
finds the row and never dials the same attempt again. What happens after a dial is decided
once, by the first status callback that moves the attempt out of its open states.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from call_queue.pacing import OutboundPacer
from madoguchi import inquiries, phone
from madoguchi.models import CallbackAttempt, CallbackRequest
from madoguchi.settings import QueueSettings
from madoguchi.telephony.base import NetworkBusy, OutcomeUnknown, Telephony, TelephonyError

log = logging.getLogger(__name__)

OPEN_ATTEMPT_STATUSES = ("dialing", "answered", "machine")
# The resident answered and our operator did not: not one of the resident's tries (but
# only so many are forgiven, should an operator's phone fail every time).
OPERATOR_MISSED = "operator-missed"
OPERATOR_MISSES_FORGIVEN = 2
# The resident answered and hung up while the operator's phone rang: their try, not reached.
HUNG_UP = "hung-up"
NOT_REACHED = ("busy", "no-answer", "failed", "canceled", "machine")
# How an attempt ends when the resident's line was reached: it rang, was busy, or was answered.
LINE_REACHED = ("busy", "no-answer", "machine", "completed", OPERATOR_MISSED, HUNG_UP)
# Each retry rings this much longer: slow-to-answer residents get more time to reach the phone.
EXTRA_RING_PER_RETRY = 15
MAX_RING_SECONDS = 120


class DialRefused(Exception):
    """The network refused to place an attempt's call: nothing rang; the attempt is still open.

    Its placer closes it (finish_attempt), or gives it back when the network was only busy
    (give_back_attempt), and frees the reserved operator; if the placer dies first, the sweep
    closes it as an attempt never dialled.
    """

    def __init__(self, attempt_id: int, reason: str, *, busy: bool = False) -> None:
        super().__init__(reason)
        self.attempt_id = attempt_id
        self.busy = busy


def ring_seconds(queue: QueueSettings, attempt_no: int) -> int:
    """How long an attempt rings: the configured time, longer on each retry."""
    return min(queue.callback_ring_seconds + EXTRA_RING_PER_RETRY * (attempt_no - 1),
               MAX_RING_SECONDS)


def is_machine(answered_by: str | None) -> bool:
    """True when answering-machine detection says a machine or fax picked up."""
    return bool(answered_by) and answered_by.startswith(("machine", "fax"))


def place_attempt(session: Session, *, request_id: int, attempt_no: int, telephony: Telephony,
                  pacer: OutboundPacer, queue: QueueSettings, public_base_url: str,
                  now: datetime) -> str | None:
    """Dial one attempt of a callback; None when it was already dialled or is no longer due.

    Raises DialRefused when the network refused the call.
    """
    request = session.get(CallbackRequest, request_id)
    if request is None or request.status != "dialing" or attempt_no > request.attempts:
        log.info("callback %s attempt %s is not due; nothing dialled", request_id, attempt_no)
        return None
    attempt = CallbackAttempt(request_id=request_id, attempt_no=attempt_no, status="dialing",
                              started_at=now)
    session.add(attempt)
    try:
        session.commit()  # before dialling: a second run of this job stops here
    except IntegrityError:
        session.rollback()
        log.info("callback %d attempt %d was already dialled", request_id, attempt_no)
        return None
    pacer.wait_turn()
    base = f"{public_base_url}/voice/callback"
    try:
        call_sid = telephony.place_call(
            request.phone_e164,
            url=f"{base}/answer?attempt={attempt.id}",
            status_callback=f"{base}/status?attempt={attempt.id}",
            timeout_seconds=ring_seconds(queue, attempt_no),
            machine_detection=True,
        )
    except OutcomeUnknown as exc:
        # Twilio may have placed the call: reported failed, it would be dialled again. Left
        # open, it is the sweep's, which asks the network what it placed (as for a worker that
        # died while dialling), and an answer before that finds it open.
        log.warning("callback %d attempt %d to %s: no answer from the network, left for the "
                    "sweep: %s", request_id, attempt_no, phone.mask(request.phone_e164), exc)
        return None
    except NetworkBusy as exc:
        log.warning("callback %d attempt %d to %s: the network is busy, tried again shortly: "
                    "%s", request_id, attempt_no, phone.mask(request.phone_e164), exc)
        raise DialRefused(attempt.id, str(exc), busy=True) from None
    except TelephonyError as exc:
        log.warning("callback %d attempt %d to %s failed: %s", request_id, attempt_no,
                    phone.mask(request.phone_e164), exc)
        raise DialRefused(attempt.id, str(exc)) from None
    attempt.call_sid = call_sid
    session.commit()
    log.info("callback %d attempt %d dialled %s as %s", request_id, attempt_no,
             phone.mask(request.phone_e164), call_sid)
    return call_sid


def give_back_attempt(session: Session, attempt_id: int, now: datetime) -> int | None:
    """Undo an attempt the network was too busy to dial: it rang nowhere, so it does not count.

    The request waits at its place again. Returns the operator who was reserved for it; None
    when the attempt was settled otherwise meanwhile (the sweep closed it).
    """
    attempt = session.get(CallbackAttempt, attempt_id)
    request = session.get(CallbackRequest, attempt.request_id) if attempt else None
    if attempt is None or request is None:
        return None
    session.refresh(request)
    operator_id = request.operator_id
    undone = session.execute(
        delete(CallbackAttempt).where(CallbackAttempt.id == attempt_id,
                                      CallbackAttempt.status == "dialing",
                                      CallbackAttempt.call_sid.is_(None))
        .execution_options(synchronize_session=False))
    if undone.rowcount != 1:
        session.rollback()
        return None
    back = session.execute(
        update(CallbackRequest)
        .where(CallbackRequest.id == request.id, CallbackRequest.status == "dialing",
               CallbackRequest.attempts == attempt.attempt_no)
        .values(status="waiting", operator_id=None, attempts=attempt.attempt_no - 1,
                updated_at=now)
        .execution_options(synchronize_session=False))
    if back.rowcount != 1:
        session.rollback()  # the request moved on meanwhile: its attempt stays as it was
        return None
    session.commit()
    return operator_id


def _held_elsewhere(session: Session, call_sid: str) -> bool:
    """True when another attempt holds the CallSid (the sweep matched it there): a webhook
    naming it still settles its own attempt, without taking the CallSid over."""
    return bool(session.scalar(select(exists().where(CallbackAttempt.call_sid == call_sid))))


def mark_answered(session: Session, attempt_id: int, answered_by: str | None,
                  now: datetime, call_sid: str | None = None) -> CallbackAttempt | None:
    """Note who answered (a person or a machine); None when the attempt is not open.

    call_sid, the answered call's, is kept when the attempt has none yet: the network's
    answer to the dial was lost, and the call record and the call's end need it.
    """
    attempt = session.get(CallbackAttempt, attempt_id)
    if attempt is None or attempt.status not in OPEN_ATTEMPT_STATUSES:
        return None
    if attempt.call_sid is None and call_sid and not _held_elsewhere(session, call_sid):
        attempt.call_sid = call_sid
    attempt.status = "machine" if is_machine(answered_by) else "answered"
    request = session.get(CallbackRequest, attempt.request_id)
    if attempt.status == "answered" and request is not None and request.status == "dialing":
        request.status = "connected"
        request.updated_at = now
    session.commit()
    return attempt


@dataclass(frozen=True)
class AttemptResult:
    """What one finished attempt led to."""

    request_id: int
    attempt_no: int
    outcome: str  # reached, retry, unreached
    operator_id: int | None
    machine: bool = False


def finish_attempt(session: Session, attempt_id: int, call_status: str, *, queue: QueueSettings,
                   now: datetime, call_sid: str | None = None) -> AttemptResult | None:
    """Close an attempt from its final status; None for a duplicate or unknown callback.

    call_sid, the ended call's, is kept when the attempt has none yet (the network's answer to
    the dial was lost), as when it is answered.
    """
    attempt = session.get(CallbackAttempt, attempt_id)
    if attempt is None:
        return None
    previous = attempt.status
    values: dict = {"status": _final_status(previous, call_status), "ended_at": now}
    if call_sid and attempt.call_sid is None and not _held_elsewhere(session, call_sid):
        values["call_sid"] = call_sid
    closed = session.execute(
        update(CallbackAttempt)
        .where(CallbackAttempt.id == attempt_id,
               CallbackAttempt.status.in_(OPEN_ATTEMPT_STATUSES))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if closed.rowcount != 1:
        session.rollback()
        return None  # a duplicate status callback: the first one decided already
    request = session.get(CallbackRequest, attempt.request_id)
    assert request is not None
    session.refresh(request)
    operator_id = request.operator_id
    if previous == "answered" and call_status == "completed":
        request.status = "reached"
        outcome = "reached"
    elif _residents_tries(session, request.id) < queue.callback_max_attempts:
        # Another try; after our operator missed a resident who answered, always (they were
        # told we would call again), since only the resident's own tries are counted.
        request.status = "waiting"
        request.operator_id = None
        request.next_attempt_at = now + timedelta(minutes=queue.callback_retry_minutes)
        outcome = "retry"
    else:
        request.status = "unreached"
        outcome = "unreached"
    request.updated_at = now
    session.commit()
    return AttemptResult(request.id, attempt.attempt_no, outcome, operator_id,
                         machine=previous == "machine")


def is_last_try(session: Session, attempt: CallbackAttempt, queue: QueueSettings) -> bool:
    """True when this open attempt is the resident's last: unanswered, the request ends."""
    return _residents_tries(session, attempt.request_id) + 1 >= queue.callback_max_attempts


def _residents_tries(session: Session, request_id: int) -> int:
    """The request's closed attempts that count as the resident's tries: those our operator
    missed after the resident answered are ours (they were told we would call again), up to
    OPERATOR_MISSES_FORGIVEN of them."""
    missed = CallbackAttempt.status == OPERATOR_MISSED
    theirs, ours = session.execute(
        select(func.count().filter(~missed), func.count().filter(missed))
        .where(CallbackAttempt.request_id == request_id, CallbackAttempt.ended_at.is_not(None))
    ).one()
    return theirs + max(ours - OPERATOR_MISSES_FORGIVEN, 0)


def _final_status(previous: str, call_status: str) -> str:
    if previous == "machine":
        return "machine"
    if previous == "answered" and call_status in (OPERATOR_MISSED, HUNG_UP):
        return call_status
    if previous == "answered" and call_status == "completed":
        return "completed"
    return call_status[:20] if call_status in NOT_REACHED else "no-answer"


def close_missed_windows(session: Session, now: datetime) -> list[int]:
    """Mark unreached the waiting callbacks whose window has ended; the ids this call closed."""
    candidates = session.scalars(
        select(CallbackRequest.id).where(
            CallbackRequest.status == "waiting", CallbackRequest.window_end.is_not(None),
            CallbackRequest.window_end <= now)
    ).all()
    closed = []
    for request_id in candidates:
        # Conditional, so two sweeps (or a dispatch claiming it now) never both act on it.
        result = session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == request_id, CallbackRequest.status == "waiting")
            .values(status="unreached", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if result.rowcount == 1:
            log.info("callback %d: its window passed before it was reached", request_id)
            closed.append(request_id)
    session.commit()
    return closed


def line_was_reached(session: Session, request_id: int) -> bool:
    """True when a dial of the request reached the resident's line (not refused, not failed)."""
    # By how the attempt ended only: a dial whose answer was lost may have no CallSid yet.
    reached = session.scalar(select(exists().where(
        CallbackAttempt.request_id == request_id, CallbackAttempt.status.in_(LINE_REACHED))))
    session.commit()
    return bool(reached)


def report_unreached(session: Session, request_id: int, *, send_sms: Callable[[str, str], str],
                     sms_text: str, subject: str, due_hours: int, now: datetime,
                     line_reached: bool) -> int:
    """Tell a mobile by SMS and open a follow-up case for the operators; returns the case id."""
    request = session.get(CallbackRequest, request_id)
    assert request is not None
    if phone.is_mobile(request.phone_e164):
        try:
            send_sms(request.phone_e164, sms_text)
        except TelephonyError as exc:
            log.warning("unreached SMS to %s failed: %s", phone.mask(request.phone_e164), exc)
    inquiry = inquiries.create(
        session, category="callback", subject=subject, channel="ivr",
        resident_id=request.resident_id, contact_e164=request.phone_e164,
        note=f"callback request {request.id}: {request.attempts} attempts, not reached"
             + ("" if line_reached else "; the phone never rang"),
        due_at=inquiries.due_after(due_hours, now), now=now,
    )
    return inquiry.id
