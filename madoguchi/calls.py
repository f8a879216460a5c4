"""Call records: one row per CallSid, its path and outcome, and side-effecting steps done once.

Twilio may deliver a webhook twice. A call is created once per CallSid; a step that changes
state (a hold, a confirmation, a callback request) is recorded once per (call, step key) in
CallStep, and a retry gets the first result back instead of doing the work again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from madoguchi import phone
from madoguchi.models import Call, CallStep, utcnow

log = logging.getLogger(__name__)

OUTCOMES = ("booked", "callback", "voicemail", "queued", "self_served", "abandoned")
# A later, weaker outcome never hides an earlier, stronger one (a booked caller who then
# listens to a FAQ answer still counts as booked).
_OUTCOME_RANK = {name: rank for rank, name in enumerate(reversed(OUTCOMES))}
FINAL_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")
MEMO_PREFIX = "memo:"
# Path entries are capped so a caller stuck in a loop cannot grow the row without bound.
MAX_PATH_ENTRIES = 200


def find_call(session: Session, call_sid: str) -> Call | None:
    """The call with this CallSid, if recorded."""
    return session.scalar(select(Call).where(Call.call_sid == call_sid))


def start_call(
    session: Session,
    call_sid: str,
    *,
    from_raw: str | None,
    to_number: str | None,
    region: str = "JP",
    language: str | None = None,
    resident_id: int | None = None,
    now: datetime | None = None,
) -> Call:
    """The call for this CallSid, created on first sight (a retried webhook finds the same row)."""
    existing = find_call(session, call_sid)
    if existing is not None:
        return existing
    now = now or utcnow()
    call = Call(
        call_sid=call_sid,
        direction="inbound",
        from_e164=phone.try_normalize(from_raw, region),
        to_number=(to_number or None) and to_number[:32],
        language=language,
        resident_id=resident_id,
        status="in-progress",
        path=[],
        started_at=now,
        answered_at=now,
    )
    recorded = _insert_once(session, call)
    if recorded is call:
        log.info("call %s from %s started", call_sid, phone.mask(call.from_e164 or from_raw))
    return recorded


def _insert_once(session: Session, call: Call) -> Call:
    """Insert the call, or return the row a concurrent retry of the same webhook inserted."""
    session.add(call)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = find_call(session, call.call_sid)
        assert existing is not None
        return existing
    return call


def start_callback_call(
    session: Session,
    call_sid: str,
    *,
    to_e164: str,
    operator_id: int,
    language: str,
    resident_id: int | None = None,
    now: datetime | None = None,
) -> Call:
    """The record of a callback a resident answered, put through to an operator (once per sid).

    It gives the operator's wrap-up a call to note against, as a holder's call does; the
    line's statistics count inbound calls only, so it is not counted twice.
    """
    existing = find_call(session, call_sid)
    if existing is not None:
        return existing
    now = now or utcnow()
    call = Call(call_sid=call_sid, direction="outbound-callback", from_e164=None,
                to_number=to_e164, language=language, resident_id=resident_id,
                status="in-progress", path=[], started_at=now, answered_at=now,
                operator_id=operator_id)
    recorded = _insert_once(session, call)
    if recorded is call:
        log.info("callback call %s to %s put through to operator %d", call_sid,
                 phone.mask(to_e164), operator_id)
    return recorded


def end_call(session: Session, call: Call, now: datetime | None = None) -> None:
    """Mark a call ended (first report wins) with its length in seconds."""
    if call.ended_at is not None:
        return
    now = now or utcnow()
    call.ended_at = now
    call.status = "completed"
    call.duration_seconds = max(int((now - call.started_at).total_seconds()), 0)
    session.commit()


def add_path(session: Session, call: Call, node: str, value: str | None = None) -> None:
    """Append a step of the caller's route (never personal data such as birth dates); commits."""
    entry: dict[str, Any] = {"at": utcnow().isoformat(timespec="seconds"), "node": node}
    if value is not None:
        entry["input"] = value[:40]
    path = list(call.path or [])[-(MAX_PATH_ENTRIES - 1):]
    path.append(entry)
    call.path = path  # a new list so the JSON column is seen as changed
    session.commit()


def set_outcome(session: Session, call: Call, outcome: str) -> None:
    """Record what the call achieved, unless it already achieved something stronger; commits."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
    if call.outcome is None or _OUTCOME_RANK[outcome] > _OUTCOME_RANK.get(call.outcome, -1):
        call.outcome = outcome
        if outcome == "queued" and call.queued_at is None:
            call.queued_at = utcnow()
        session.commit()


def step_result(session: Session, call: Call, step_key: str) -> dict[str, Any] | None:
    """The stored result of a step already done on this call, if any."""
    return session.scalar(
        select(CallStep.result).where(CallStep.call_id == call.id, CallStep.step_key == step_key)
    )


def once(
    session: Session, call: Call, step_key: str, work: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Do a side-effecting step once per call: a retry returns the first run's result.

    ``work`` must itself be safe to repeat (an idempotency key, an upsert) because two
    deliveries of the same webhook can run at the very same moment; the step row then makes
    every later delivery a pure read.
    """
    done = step_result(session, call, step_key)
    if done is not None:
        return done
    result = work()
    session.add(CallStep(call_id=call.id, step_key=step_key, result=result))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        done = step_result(session, call, step_key)
        assert done is not None
        return done
    return result


def remember(session: Session, call: Call, name: str, value: Any) -> None:
    """Keep a value for the rest of the call (what the caller keyed in); commits."""
    key = MEMO_PREFIX + name
    row = session.scalar(
        select(CallStep).where(CallStep.call_id == call.id, CallStep.step_key == key)
    )
    if row is None:
        session.add(CallStep(call_id=call.id, step_key=key, result={"value": value}))
    else:
        row.result = {"value": value}
    session.commit()


def recall(session: Session, call: Call, name: str) -> Any:
    """A value kept with remember(), or None."""
    result = step_result(session, call, MEMO_PREFIX + name)
    return None if result is None else result.get("value")


def forget(session: Session, call: Call, *names: str) -> None:
    """Delete kept values (a birth date once it has served); commits."""
    session.execute(
        delete(CallStep).where(
            CallStep.call_id == call.id,
            CallStep.step_key.in_([MEMO_PREFIX + name for name in names]),
        )
    )
    session.commit()


def apply_status(
    session: Session,
    call_sid: str,
    *,
    status: str,
    sequence: int | None,
    duration_seconds: int | None = None,
    from_raw: str | None = None,
    to_number: str | None = None,
    region: str = "JP",
    now: datetime | None = None,
) -> Call:
    """Apply a status callback; an older event arriving late (lower SequenceNumber) is ignored."""
    now = now or utcnow()
    call = start_call(session, call_sid, from_raw=from_raw, to_number=to_number, region=region)
    if sequence is not None and sequence <= call.status_sequence:
        return call
    if call.status in FINAL_STATUSES and sequence is None:
        return call
    if sequence is not None:
        call.status_sequence = sequence
    call.status = status[:20]
    if status in FINAL_STATUSES:
        call.ended_at = call.ended_at or now
        if duration_seconds is not None:
            call.duration_seconds = duration_seconds
        elif call.duration_seconds is None:
            call.duration_seconds = max(int((call.ended_at - call.started_at).total_seconds()), 0)
        if call.outcome is None:
            call.outcome = "abandoned"
    session.commit()
    return call
