"""One fair order for everybody waiting for a person: holding callers and callback requests.

A party's place is the time it first asked for a person. A callback request keeps the
caller's original arrival time, so asking to be called back never loses the place; one with a
chosen time window waits until the window opens, then is served by that original arrival time.
The next free operator gets the earliest party, whichever kind it is. Claims are conditional
updates, so two operators (or two processes) can never take the same party.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from madoguchi.models import Call, CallbackRequest

PartyKind = Literal["holding", "callback"]


@dataclass(frozen=True)
class Party:
    """Someone waiting for a person: a caller on hold or a callback request."""

    kind: PartyKind
    id: int
    arrival_at: datetime
    language: str
    resident_id: int | None


def _holding(now: datetime):
    return select(Call).where(
        Call.queued_at.is_not(None),
        Call.queued_at <= now,
        Call.answered_at.is_(None),
        Call.ended_at.is_(None),
        Call.operator_id.is_(None),
        # A holder who left the line for a callback waits as that request instead.
        or_(Call.outcome.is_(None), Call.outcome != "callback"),
    )


def _callbacks_due(now: datetime):
    return select(CallbackRequest).where(
        CallbackRequest.status == "waiting",
        or_(CallbackRequest.window_start.is_(None), CallbackRequest.window_start <= now),
        # A window that has passed is reported by the sweep, not dialled late.
        or_(CallbackRequest.window_end.is_(None), CallbackRequest.window_end > now),
        or_(CallbackRequest.next_attempt_at.is_(None), CallbackRequest.next_attempt_at <= now),
    )


def waiting_parties(session: Session, now: datetime) -> list[Party]:
    """Everyone due to be served, in the order they will be served."""
    parties = [
        Party("holding", call.id, call.queued_at, call.language or "ja", call.resident_id)
        for call in session.scalars(_holding(now))
    ] + [
        Party("callback", req.id, req.arrival_at, req.language, req.resident_id)
        for req in session.scalars(_callbacks_due(now))
    ]
    # Holders first on a tie: they are on the line now, paying attention.
    return sorted(parties, key=lambda p: (p.arrival_at, p.kind != "holding", p.id))


def ahead_of(session: Session, arrival_at: datetime, now: datetime) -> int:
    """How many due parties arrived before this arrival time (counted in the database)."""
    holding = _holding(now).where(Call.queued_at < arrival_at)
    callbacks = _callbacks_due(now).where(CallbackRequest.arrival_at < arrival_at)
    count = 0
    for query in (holding, callbacks):
        count += session.scalar(select(func.count()).select_from(query.subquery())) or 0
    return count


def _claim(session: Session, party: Party, operator_id: int, now: datetime) -> bool:
    if party.kind == "holding":
        statement = (
            update(Call)
            .where(Call.id == party.id, Call.operator_id.is_(None), Call.answered_at.is_(None),
                   Call.ended_at.is_(None))
            .values(operator_id=operator_id)
        )
    else:
        # The attempt is counted with the claim, in one statement: a request left "dialing"
        # by a process that died right after its claim is then one the sweep sees as an
        # attempt never enqueued, and places; counted later, it was dialled by nobody, ever.
        statement = (
            update(CallbackRequest)
            .where(CallbackRequest.id == party.id, CallbackRequest.status == "waiting")
            .values(status="dialing", operator_id=operator_id, updated_at=now,
                    attempts=CallbackRequest.attempts + 1)
        )
    result = session.execute(statement.execution_options(synchronize_session=False))
    session.commit()
    return result.rowcount == 1


def claim_next(session: Session, operator_id: int, now: datetime) -> Party | None:
    """Give the operator the earliest party; None when nobody is waiting. Commits."""
    for party in waiting_parties(session, now):
        if _claim(session, party, operator_id, now):
            return party
    return None


def claim(session: Session, party: Party, operator_id: int, now: datetime) -> bool:
    """Give the operator one chosen party (a supervisor's "take this one"). Commits."""
    return _claim(session, party, operator_id, now)
