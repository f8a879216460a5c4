"""Retention: after [privacy] retention_days, personal data leaves old records; statistics stay.

What goes: the caller's number, the digits and words a caller gave (step results, what the path
heard), the operator's wrap-up notes, the number of an outbound call; a closed inquiry's contact
number, subject and timeline texts; a finished callback request's number; a text message's
number, words and any error; and on all of them the link to the resident (and the digests that
would find the number). A closed voicemail case's recording is deleted from the phone network
first; a case whose recording the network could not delete keeps its address and waits, whole,
for the next run, so no recording is left there that nothing points to. What stays: every row,
with its times, status, outcome, disposition, category, route through the menu and counts, so
the reports add up as before.

Idempotent (rows carry anonymised_at and are never done twice) and batched (one commit per batch,
so a long first run holds no locks for long and can be stopped and resumed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from madoguchi.db import database, session_scope
from madoguchi.models import (
    ACTIVE_CALLBACK_STATUSES,
    RECORDING_EVENT,
    Call,
    CallbackRequest,
    CallStep,
    Inquiry,
    InquiryEvent,
    TextMessage,
    utcnow,
)
from madoguchi.telephony import Telephony, TelephonyError, get_telephony
from madoguchi.telephony.base import NetworkBusy, OutcomeUnknown

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 500
# Written where a column may not be empty (a callback request's number).
REMOVED = ""


@dataclass
class PurgeCounts:
    """How many records were (or, in a dry run, would be) anonymised, by kind."""

    calls: int = 0
    inquiries: int = 0
    callback_requests: int = 0
    text_messages: int = 0
    recordings: int = 0  # voicemail recordings deleted from the phone network
    cases_held: int = 0  # closed cases kept whole: their recording is still on the network

    @property
    def total(self) -> int:
        """All records together (recordings are not records)."""
        return self.calls + self.inquiries + self.callback_requests + self.text_messages

    def __str__(self) -> str:
        return ", ".join(f"{f.name.replace('_', ' ')}: {getattr(self, f.name)}"
                         for f in fields(self))


@dataclass
class RecordingEraser:
    """Deletes closed cases' recordings from the network before their addresses go."""

    telephony: Telephony
    deleted: int = 0
    held: int = 0
    network_down: bool = False  # busy or silent once: the rest wait for the next run

    def erase(self, session: Session, inquiry_ids: list[int]) -> set[int]:
        """Delete these cases' recordings; the ids of cases whose recording is still there."""
        found = _recordings_of(session, inquiry_ids)
        session.commit()  # no transaction stays open while the network is asked
        kept: set[int] = set()
        for inquiry_id, address in found:
            if inquiry_id in kept or not address:
                continue
            if self.network_down:
                kept.add(inquiry_id)
                continue
            try:
                gone = self.telephony.delete_recording(address)
            except (NetworkBusy, OutcomeUnknown) as exc:
                log.warning("recordings stay on the phone network until the next run: %s", exc)
                self.network_down = True
                kept.add(inquiry_id)
                continue
            except TelephonyError as exc:
                # This recording only: the others are deleted, this case waits for the next run.
                log.warning("case %d waits for the next run: %s", inquiry_id, exc)
                kept.add(inquiry_id)
                continue
            self.deleted += gone
        self.held += len(kept)
        return kept


def _recordings_of(session: Session, inquiry_ids: list[int]) -> list[tuple[int, str | None]]:
    rows = session.execute(select(InquiryEvent.inquiry_id, InquiryEvent.text).where(
        InquiryEvent.inquiry_id.in_(inquiry_ids), InquiryEvent.kind == RECORDING_EVENT))
    return [(inquiry_id, address) for inquiry_id, address in rows]


def cutoff(retention_days: int, now: datetime | None = None) -> datetime:
    """The moment before which records are due: now minus the retention period."""
    if retention_days < 1:
        raise ValueError(f"retention_days must be at least 1, not {retention_days}")
    return (now or utcnow()) - timedelta(days=retention_days)


def _calls_due(before: datetime) -> ColumnElement[bool]:
    return (Call.anonymised_at.is_(None)) & (Call.started_at < before)


def _inquiries_due(before: datetime) -> ColumnElement[bool]:
    closed = func.coalesce(Inquiry.closed_at, Inquiry.updated_at)
    return (Inquiry.anonymised_at.is_(None)) & (Inquiry.status == "done") & (closed < before)


def _callbacks_due(before: datetime) -> ColumnElement[bool]:
    return (
        CallbackRequest.anonymised_at.is_(None)
        & CallbackRequest.status.not_in(ACTIVE_CALLBACK_STATUSES)
        & (CallbackRequest.updated_at < before)
    )


def _path_without_input(path: list[Any] | None) -> list[Any]:
    """The route through the menu, without what the caller keyed or said at each point."""
    return [
        {key: value for key, value in entry.items() if key != "input"}
        if isinstance(entry, dict) else entry
        for entry in path or []
    ]


def _anonymise_calls(session: Session, ids: list[int], at: datetime) -> None:
    for call in session.scalars(select(Call).where(Call.id.in_(ids))):
        call.from_e164 = None
        call.resident_id = None
        call.wrap_notes = None
        call.path = _path_without_input(call.path)
        if call.direction != "inbound":
            call.to_number = None  # an outbound call's "to" is the resident's number
        call.anonymised_at = at
    session.execute(update(CallStep).where(CallStep.call_id.in_(ids)).values(result={}))


def _anonymise_inquiries(session: Session, ids: list[int], at: datetime) -> None:
    # updated_at keeps its value: anonymising is not a change in the case's own timeline.
    session.execute(update(Inquiry).where(Inquiry.id.in_(ids)).values(
        contact_e164=None, resident_id=None, subject=REMOVED, anonymised_at=at,
        updated_at=Inquiry.updated_at))
    session.execute(update(InquiryEvent).where(InquiryEvent.inquiry_id.in_(ids))
                    .values(text=REMOVED, recording_digest=None))


def _anonymise_callbacks(session: Session, ids: list[int], at: datetime) -> None:
    session.execute(update(CallbackRequest).where(CallbackRequest.id.in_(ids)).values(
        phone_e164=REMOVED, phone_digest=None, resident_id=None, anonymised_at=at,
        updated_at=CallbackRequest.updated_at))


def _texts_due(before: datetime) -> ColumnElement[bool]:
    return TextMessage.anonymised_at.is_(None) & (TextMessage.sent_at < before)


def _anonymise_texts(session: Session, ids: list[int], at: datetime) -> None:
    session.execute(update(TextMessage).where(TextMessage.id.in_(ids)).values(
        to_e164=None, body=REMOVED, error=None, resident_id=None, anonymised_at=at))


_KINDS: list[tuple[str, Any, Callable[[datetime], ColumnElement[bool]],
                   Callable[[Session, list[int], datetime], None]]] = [
    ("calls", Call, _calls_due, _anonymise_calls),
    ("inquiries", Inquiry, _inquiries_due, _anonymise_inquiries),
    ("callback_requests", CallbackRequest, _callbacks_due, _anonymise_callbacks),
    ("text_messages", TextMessage, _texts_due, _anonymise_texts),
]


def purge(session: Session, *, before: datetime, telephony: Telephony | None,
          dry_run: bool = False, batch_size: int = DEFAULT_BATCH_SIZE) -> PurgeCounts:
    """Anonymise every record due before `before`, a batch per commit; a dry run only counts.

    Closed cases' recordings are deleted from the network through `telephony` first (a dry
    run, which changes nothing, needs none).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    counts = PurgeCounts()
    if dry_run:
        for name, model, due, _ in _KINDS:
            found = session.scalar(select(func.count()).select_from(model).where(due(before)))
            setattr(counts, name, found or 0)
        counts.recordings = session.scalar(select(func.count()).where(
            InquiryEvent.kind == RECORDING_EVENT,
            InquiryEvent.inquiry_id.in_(select(Inquiry.id).where(_inquiries_due(before))))) or 0
        session.rollback()
        return counts
    if telephony is None:
        raise ValueError("purging deletes recordings from the phone network: give a telephony")
    eraser = RecordingEraser(telephony)
    for name, model, due, anonymise in _KINDS:
        done, after = 0, 0
        while True:
            ids = list(session.scalars(select(model.id).where(due(before), model.id > after)
                                       .order_by(model.id).limit(batch_size)))
            if not ids:
                break
            after = ids[-1]  # held cases stay due: the next batch starts past them
            if model is Inquiry:
                kept = eraser.erase(session, ids)
                ids = [ident for ident in ids if ident not in kept]
            if ids:
                anonymise(session, ids, utcnow())
            session.commit()
            done += len(ids)
        setattr(counts, name, done)
    counts.recordings, counts.cases_held = eraser.deleted, eraser.held
    return counts


def purge_due_records() -> int:
    """RQ job (daily): anonymise what is past [privacy] retention_days; returns how many."""
    days = current_app.config["SETTINGS"].privacy.retention_days
    with session_scope(database()) as session:
        counts = purge(session, before=cutoff(days), telephony=get_telephony())
    if counts.total:
        log.info("retention anonymised %s", counts)
    return counts.total
