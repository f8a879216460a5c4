"""Call records: one row per CallSid, its path and outcome, and side-effecting steps done once.

Twilio may deliver a webhook twice. A call is created once per CallSid; a step that changes
state (a hold, a confirmation, a callback request) is recorded once per (call, step key) in
CallStep, and a retry gets the first result back instead of doing the work again.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Engine,
    Insert,
    Row,
    bindparam,
    delete,
    exists,
    false,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from madoguchi import call_moves, phone
from madoguchi.db import ONE_STATEMENT
from madoguchi.models import Call, CallStep, ResidentPhone, utcnow
from madoguchi.sealing import blind
from madoguchi.sealing.orm import with_digests

log = logging.getLogger(__name__)

OUTCOMES = ("booked", "callback", "voicemail", "queued", "self_served", "abandoned")
# A later, weaker outcome never hides an earlier, stronger one (a booked caller who then
# listens to a FAQ answer still counts as booked).
_OUTCOME_RANK = {name: rank for rank, name in enumerate(reversed(OUTCOMES))}
FINAL_STATUSES = ("completed", "busy", "failed", "no-answer", "canceled")
MEMO_PREFIX = "memo:"
# Path entries are capped so a caller stuck in a loop cannot grow the row without bound.
MAX_PATH_ENTRIES = 200


_FIND_CALL = select(Call).where(Call.call_sid == bindparam("call_sid"))


def find_call(session: Session, call_sid: str) -> Call | None:
    """The call with this CallSid, if recorded."""
    return session.scalar(_FIND_CALL, {"call_sid": call_sid})


_RESIDENT_OF = select(Call.resident_id).where(Call.call_sid == bindparam("call_sid"))


def resident_of(session: Session, call_sid: str) -> int | None:
    """The resident identified on this call (None when none, or no such call yet)."""
    return session.scalar(_RESIDENT_OF, {"call_sid": call_sid})


@functools.cache
def _call_upsert(dialect_name: str, digests: int) -> Insert:
    """The call's `INSERT … ON CONFLICT DO NOTHING RETURNING`, one per dialect and key count."""
    # It returns, with the new row's id, whether a resident registered the caller's number:
    # the greeting learns it in the same round trip. The number's digests (one per index key)
    # bind one by one: an expanding list would have the statement's text rewritten each call.
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    names = [bindparam(f"registered_digest_{n}") for n in range(digests)]
    registered = exists().where(ResidentPhone.e164_digest.in_(names)) if names else false()
    return (dialect.insert(Call).on_conflict_do_nothing(index_elements=[Call.call_sid])
            .returning(Call.id, registered.label("number_registered")))


def _run_alone(session: Session, statement: Insert, params: dict) -> Row | None:
    """Run one writing statement as a transaction of its own; its first row, if any.

    Outside a transaction it runs on a pooled connection of its own, not through the session:
    on PostgreSQL in autocommit (no BEGIN and COMMIT round trips), on SQLite as a single
    statement in the writers' turn (madoguchi.db.ONE_STATEMENT). A session already in a
    transaction, or bound to a connection (whose transaction it shares), runs it there and
    commits.
    """
    bind = session.get_bind()
    if session.in_transaction() or not isinstance(bind, Engine):
        returned = session.connection().execute(statement, params).first()
        session.commit()
        return returned
    options = ({"isolation_level": "AUTOCOMMIT"} if bind.dialect.name == "postgresql"
               else {ONE_STATEMENT: True})
    with bind.connect() as connection:
        # On the connection, not the statement: SQLAlchemy sets an isolation level only from
        # there (and puts it back when the connection returns to the pool).
        connection.execution_options(**options)
        returned = connection.execute(statement, params).first()
        connection.commit()
    return returned


class RecordedCall(NamedTuple):
    """Whether recording an inbound call made its row, and whether its number is registered."""

    made: bool
    number_registered: bool | None  # None on a retry, which makes no row and learns nothing


def record_call(
    session: Session,
    call_sid: str,
    *,
    from_raw: str | None,
    to_number: str | None,
    region: str = "JP",
    language: str | None = None,
    resident_id: int | None = None,
    now: datetime | None = None,
    first_move: str | None = None,
) -> RecordedCall:
    """Record an inbound call once per CallSid in one statement.

    `INSERT … ON CONFLICT DO NOTHING`: a retried or concurrent webhook of the same call is a
    no-op, with no read before and no error to recover from. `first_move` starts the route in
    the same statement (a retry does not repeat it). Commits.
    """
    now = now or utcnow()
    path = [path_entry(first_move)] if first_move else []
    from_e164 = phone.try_normalize(from_raw, region)
    (row,) = with_digests(Call, [{
        "call_sid": call_sid, "direction": "inbound", "from_e164": from_e164,
        "to_number": (to_number or None) and to_number[:32], "language": language,
        "resident_id": resident_id, "status": "in-progress", "status_sequence": -1, "path": path,
        "started_at": now, "answered_at": now,
    }])
    digests = blind.lookup_digests("phone", from_e164) if from_e164 else []
    row.update({f"registered_digest_{n}": digest for n, digest in enumerate(digests)})
    # RETURNING, not rowcount: psycopg reports no row count for an insert that returns rows.
    returned = _run_alone(session, _call_upsert(session.get_bind().dialect.name, len(digests)),
                          row)
    if returned is None:
        return RecordedCall(made=False, number_registered=None)
    log.info("call %s from %s started", call_sid, phone.mask(from_e164 or from_raw))
    return RecordedCall(made=True, number_registered=bool(returned.number_registered))


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
    record_call(session, call_sid, from_raw=from_raw, to_number=to_number, region=region,
                language=language, resident_id=resident_id, now=now)
    recorded = find_call(session, call_sid)
    assert recorded is not None
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


def path_entry(node: str, value: str | None = None) -> dict[str, Any]:
    """One step of a caller's route (never personal data such as birth dates)."""
    # The id tells a move folded twice (the status callback and the sweep at once) from two
    # moves alike in the same second.
    entry: dict[str, Any] = {"at": utcnow().isoformat(timespec="seconds"), "node": node,
                             "id": f"{random.getrandbits(32):08x}"}
    if value is not None:
        entry["input"] = value[:40]
    return entry


def add_move(call_sid: str, node: str, value: str | None = None, *,
             call: Callable[[], Call]) -> None:
    """A step that only moves the caller through the menu: buffered, no database write.

    When Redis cannot take it, it is written to the call's row (`call` gives the row, read
    only then) at once.
    """
    entry = path_entry(node, value)
    if not call_moves.buffer(call_sid, entry):
        row = call()
        session = object_session(row)
        if session is None:
            raise RuntimeError(f"call {call_sid}: its row belongs to no session to write with")
        _write_path(session, row, [entry])


def add_path(session: Session, call: Call, node: str, value: str | None = None) -> None:
    """Append a step of the caller's route with the moves buffered before it; commits."""
    _write_path(session, call, [path_entry(node, value)])


def fold_moves(session: Session, call: Call) -> None:
    """Write the call's buffered moves to its row (end of call, sweep); commits."""
    _write_path(session, call, [])


# A write that changes nothing, to hold the call's row for the rest of the transaction: on
# PostgreSQL its row lock, on SQLite the write lock. Path writers then take turns, each
# merging into the path as the one before it left it.
_HOLD_CALL_ROW = (update(Call.__table__).where(Call.__table__.c.id == bindparam("call_id"))
                  .values(path=Call.__table__.c.path))


def _write_path(session: Session, call: Call, entries: list[dict[str, Any]]) -> None:
    buffered = call_moves.pending(call.call_sid)
    if not buffered and not entries:
        return
    session.execute(_HOLD_CALL_ROW, {"call_id": call.id})
    session.refresh(call, attribute_names=["path"])
    kept = {entry["id"] for entry in call.path or [] if "id" in entry}
    new = []
    # Each id once: already in the row, or buffered twice (a push retried after its first try
    # reached Redis unanswered).
    for entry in [*(move.entry for move in buffered), *entries]:
        if "id" in entry:
            if entry["id"] in kept:
                continue
            kept.add(entry["id"])
        new.append(entry)
    # Stable by time: a move written through while Redis was away keeps its place.
    merged = sorted([*(call.path or []), *new], key=lambda e: e.get("at", ""))
    call.path = merged[-MAX_PATH_ENTRIES:]  # a new list so the JSON column is seen as changed
    session.commit()
    call_moves.settled(call.call_sid, buffered)


def fold_idle_moves(session: Session, idle_seconds: float = 15 * 60) -> int:
    """Fold the moves of calls silent for idle_seconds (their status never came); how many."""
    folded = 0
    for call_sid in call_moves.idle_calls(idle_seconds):
        call = find_call(session, call_sid)
        if call is None:
            call_moves.forget(call_sid)
            continue
        fold_moves(session, call)
        folded += 1
    return folded


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
        fold_moves(session, call)  # the route is complete: one write with the status
    session.commit()
    return call
