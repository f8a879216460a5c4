"""The line as operators see it: people holding and callbacks waiting, in the fair order.

Positions come from call_queue.line's one fair order. Numbers are masked here, before anything
reaches a template or an event stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from call_queue import line
from ivr.flow import SAID_MEMO
from madoguchi import calls, phone, residents
from madoguchi.models import RECORDING_EVENT, Call, CallbackRequest, Inquiry, Resident

# Open voicemail cases looked at to find the message behind a callback (newest first).
VOICEMAILS_LOOKED_AT = 200

# A callback promised without an end to its window is overdue after this long.
UNWINDOWED_PROMISE = timedelta(hours=1)
WAITING_CALLBACK_STATUSES = ("waiting", "dialing")


@dataclass(frozen=True)
class HolderRow:
    """One caller on hold."""

    call_id: int
    position: int
    queued_at: datetime
    language: str
    menu_path: list[str]
    resident_name: str | None
    masked_number: str


@dataclass(frozen=True)
class CallbackRow:
    """One callback request still to be made (or being dialled)."""

    request_id: int
    position: int | None
    status: str
    arrival_at: datetime
    window_start: datetime | None
    window_end: datetime | None
    attempts: int
    overdue: bool
    resident_name: str | None
    masked_number: str
    reason: str = ""
    menu_path: tuple[str, ...] = ()
    # What the caller said at the menus (speech the line recognised), last few.
    said: tuple[str, ...] = ()
    # The message the caller left, as (case id, recording entry id), when there is one.
    message: tuple[int, int] | None = None


def menu_nodes(path: list | None) -> list[str]:
    """The menu steps a caller went through, as their node names (inputs left out)."""
    return [str(entry.get("node")) for entry in (path or []) if isinstance(entry, dict)
            and entry.get("node")]


def known_resident(session: Session, resident_id: int | None, e164: str | None) -> Resident | None:
    """The resident of a call: the one the line identified, else the only one with the number."""
    if resident_id is not None:
        return session.get(Resident, resident_id)
    if not e164:
        return None
    found = residents.by_phone(session, e164)[:2]
    # A shared home phone with several residents: the operator asks who is calling.
    return found[0] if len(found) == 1 else None


def is_overdue(request: CallbackRequest, now: datetime) -> bool:
    """True when the promised window has passed (or an hour has, when none was promised)."""
    if request.window_end is not None:
        return request.window_end < now
    due_since = request.window_start or request.arrival_at
    return now - due_since > UNWINDOWED_PROMISE


def _positions(session: Session, now: datetime) -> dict[tuple[str, int], int]:
    return {(party.kind, party.id): index
            for index, party in enumerate(line.waiting_parties(session, now), start=1)}


def holders(session: Session, now: datetime) -> list[HolderRow]:
    """Everyone holding for a person now, first in line first."""
    positions = _positions(session, now)
    rows = []
    calls = session.scalars(select(Call).where(Call.id.in_(
        [ident for kind, ident in positions if kind == "holding"])))
    for call in calls:
        resident = known_resident(session, call.resident_id, call.from_e164)
        rows.append(HolderRow(
            call_id=call.id, position=positions[("holding", call.id)],
            queued_at=call.queued_at or now, language=call.language or "ja",
            menu_path=menu_nodes(call.path), resident_name=resident.name if resident else None,
            masked_number=phone.mask(call.from_e164) if call.from_e164 else "",
        ))
    return sorted(rows, key=lambda row: row.position)


def _messages(session: Session) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """The recordings of open voicemail cases, by the call that left them and by their number."""
    by_call: dict[str, tuple[int, int]] = {}
    by_number: dict[str, tuple[int, int]] = {}
    cases = session.scalars(
        select(Inquiry).where(Inquiry.category == "voicemail", Inquiry.status != "done")
        .order_by(Inquiry.created_at.desc()).limit(VOICEMAILS_LOOKED_AT))
    for case in cases:
        recording = next((e for e in case.events if e.kind == RECORDING_EVENT), None)
        if recording is None:
            continue
        if case.call_sid:
            by_call.setdefault(case.call_sid, (case.id, recording.id))
        if case.contact_e164:
            by_number.setdefault(case.contact_e164, (case.id, recording.id))
    return by_call, by_number


def callbacks(session: Session, now: datetime) -> list[CallbackRow]:
    """Callback requests still to be made, due ones in line order, later ones after; each with
    why the caller wants it (the reason, their route through the menu, a message they left)."""
    positions = _positions(session, now)
    rows = []
    requests = list(session.scalars(select(CallbackRequest).where(
        CallbackRequest.status.in_(WAITING_CALLBACK_STATUSES))))
    by_call, by_number = _messages(session) if requests else ({}, {})
    for request in requests:
        call = session.get(Call, request.call_id) if request.call_id else None
        message = by_call.get(call.call_sid) if call else None
        if message is None and request.reason == "fallback":
            message = by_number.get(request.phone_e164)
        resident = known_resident(session, request.resident_id, request.phone_e164)
        rows.append(CallbackRow(
            request_id=request.id, position=positions.get(("callback", request.id)),
            status=request.status, arrival_at=request.arrival_at,
            window_start=request.window_start, window_end=request.window_end,
            attempts=request.attempts, overdue=is_overdue(request, now),
            resident_name=resident.name if resident else None,
            masked_number=phone.mask(request.phone_e164),
            reason=request.reason, menu_path=tuple(menu_nodes(call.path if call else None)),
            said=tuple(str(words) for words in (calls.recall(session, call, SAID_MEMO) or [])
                       ) if call else (),
            message=message,
        ))
    return sorted(rows, key=lambda row: (row.position is None, row.position or 0,
                                         row.arrival_at))
