"""An operator's desk: their state, the party they took, the connected call, and wrap-up.

The party an operator took is read from the database (a holder's Call or a callback request
with the operator's id); whether it is bridged right now, and the caller's words, come from the
OperatorLine seam so this module is the same for the simulator and Twilio.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis.exceptions import RedisError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from agent_console.services.actor import Actor
from agent_console.services.line_view import known_resident, menu_nodes
from agent_console.services.operator_line import OperatorLine
from call_queue import operator_states
from call_queue.operators import OperatorBoard, OperatorState
from madoguchi import phone
from madoguchi.models import Call, CallbackAttempt, CallbackRequest, utcnow

DISPOSITIONS = ("resolved", "booked", "changed_booking", "inquiry_logged", "callback_needed",
                "transferred", "wrong_number", "dropped")
NEXT_STATES = ("available", "away")
NOTES_MAX = 4000


class WrapUpError(ValueError):
    """The wrap-up form is wrong; `key` is the console message saying what to fix."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class TakenParty:
    """The caller an operator took: a holder's call or a callback being made."""

    kind: str  # holding | callback
    party_id: int
    call_sid: str | None
    call_id: int | None
    resident_id: int | None
    resident_name: str | None
    masked_number: str
    language: str
    menu_path: list[str]
    since: datetime


@dataclass(frozen=True)
class Connected:
    """The call the operator is on, as the connected-call panel shows it."""

    party: TakenParty
    bridged: bool
    heard: list[str]


def own_state(board: OperatorBoard, operator_id: int, now: datetime,
              session: Session | None = None) -> OperatorState:
    """The operator's state (an ended wrap-up already counted as available).

    While Redis cannot be reached, the state the database last saved (offline if none).
    """
    try:
        board.release_wrap_ups(now)
        return board.get(operator_id)
    except RedisError:
        if session is None:
            raise
        saved = {state.operator_id: state for state in operator_states.stored_states(session)}
        return saved.get(operator_id) or OperatorState(operator_id, "offline", now)


def _taken_holder(session: Session, operator_id: int) -> TakenParty | None:
    call = session.scalar(
        select(Call).where(Call.operator_id == operator_id, Call.ended_at.is_(None),
                           Call.queued_at.is_not(None), Call.wrapped_at.is_(None))
        .order_by(Call.queued_at.desc()).limit(1))
    if call is None:
        return None
    resident = known_resident(session, call.resident_id, call.from_e164)
    return TakenParty(
        kind="holding", party_id=call.id, call_sid=call.call_sid, call_id=call.id,
        resident_id=resident.id if resident else None,
        resident_name=resident.name if resident else None,
        masked_number=phone.mask(call.from_e164) if call.from_e164 else "",
        language=call.language or "ja", menu_path=menu_nodes(call.path),
        since=call.answered_at or call.queued_at or utcnow(),
    )


def _taken_callback(session: Session, operator_id: int) -> TakenParty | None:
    request = session.scalar(
        select(CallbackRequest).where(CallbackRequest.operator_id == operator_id,
                                      CallbackRequest.status.in_(("dialing", "connected")))
        .order_by(CallbackRequest.updated_at.desc()).limit(1))
    if request is None:
        return None
    attempt = session.scalar(
        select(CallbackAttempt).where(CallbackAttempt.request_id == request.id)
        .order_by(CallbackAttempt.attempt_no.desc()).limit(1))
    call = session.get(Call, request.call_id) if request.call_id else None
    resident = known_resident(session, request.resident_id, request.phone_e164)
    return TakenParty(
        kind="callback", party_id=request.id, call_sid=attempt.call_sid if attempt else None,
        call_id=None, resident_id=resident.id if resident else None,
        resident_name=resident.name if resident else None,
        masked_number=phone.mask(request.phone_e164), language=request.language,
        menu_path=menu_nodes(call.path if call else None),
        since=attempt.started_at if attempt else request.updated_at,
    )


def taken_party(session: Session, operator_id: int) -> TakenParty | None:
    """The holder or callback this operator is taking now, if any."""
    return _taken_holder(session, operator_id) or _taken_callback(session, operator_id)


def connected(session: Session, line: OperatorLine, operator_id: int) -> Connected | None:
    """The operator's current call with what the caller said; None when they have none."""
    party = taken_party(session, operator_id)
    if party is None:
        return None
    if party.call_sid is None:
        return Connected(party, bridged=False, heard=[])
    try:
        bridged = line.is_bridged(party.call_sid, operator_id)
    except RedisError:  # the simulated network keeps its calls in Redis: unknown for now
        return Connected(party, bridged=False, heard=[])
    return Connected(party, bridged=bridged, heard=line.heard(party.call_sid) if bridged else [])


def end_call(session: Session, line: OperatorLine, actor: Actor) -> bool:
    """The operator hangs up their bridged call; False when no call is bridged to them."""
    now_connected = connected(session, line, actor.operator_id)
    if now_connected is None or not now_connected.bridged or not now_connected.party.call_sid:
        return False
    line.end(now_connected.party.call_sid)
    return True


def call_to_wrap(session: Session, operator_id: int) -> Call | None:
    """The operator's latest answered call still without a disposition."""
    return session.scalar(
        select(Call).where(Call.operator_id == operator_id, Call.answered_at.is_not(None),
                           Call.wrapped_at.is_(None))
        .order_by(Call.answered_at.desc()).limit(1))


def save_wrap_up(session: Session, actor: Actor, call_id: int | None, *, disposition: str,
                 notes: str, now: datetime | None = None) -> Call | None:
    """Save disposition and notes on the operator's call (once); audited. None when no call."""
    if disposition not in DISPOSITIONS:
        raise WrapUpError("wrap_up_disposition_required")
    notes = notes.strip()
    if len(notes) > NOTES_MAX:
        raise WrapUpError("wrap_up_notes_too_long")
    if call_id is None:
        return None
    now = now or utcnow()
    saved = session.execute(
        update(Call).where(Call.id == call_id, Call.operator_id == actor.operator_id,
                           Call.wrapped_at.is_(None))
        .values(disposition=disposition, wrap_notes=notes or None, wrapped_at=now)
        .execution_options(synchronize_session=False))
    session.commit()
    if saved.rowcount != 1:
        raise WrapUpError("wrap_up_not_yours")
    call = session.get(Call, call_id, populate_existing=True)
    assert call is not None
    actor.audit(session, "wrap_up", "call", call.id, resident_id=call.resident_id,
                detail={"disposition": disposition})
    return call
