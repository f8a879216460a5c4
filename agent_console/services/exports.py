"""CSV exports of calls and inquiries for a range of local days, streamed and audited.

Rows are read from the database a batch at a time (keyset pages in time order) and written out
line by line, so a year of calls never sits in memory. Phone numbers are masked except for
admins; every export leaves an audit row saying who took which range, how many rows, and
whether numbers were masked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from agent_console.services.actor import Actor
from madoguchi import booking, phone
from madoguchi.models import Call, Inquiry, Operator

KINDS = ("calls", "inquiries")
BATCH_ROWS = 1000
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

Translate = Callable[..., str]


class ExportError(ValueError):
    """The export cannot be made for this choice; `key` is the console message saying why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class ExportChoice:
    """What to export: calls or inquiries, from the first to the last local day (included)."""

    kind: str
    first_day: date
    last_day: date


def check_choice(choice: ExportChoice) -> None:
    """Refuse an unknown kind or a range that ends before it starts."""
    if choice.kind not in KINDS:
        raise ExportError("export_kind_unknown")
    if choice.last_day < choice.first_day:
        raise ExportError("range_reversed")


def _national_digits(e164: str) -> str:
    # Japanese numbers need no library call (0 + the rest); it is the export's hot path.
    if e164.startswith("+81") and e164[3:].isdigit():
        return "0" + e164[3:]
    try:
        return phone.national(e164)
    except Exception:  # a stored number phonenumbers cannot parse is still handled as stored
        return e164


def shown_phone(e164: str | None, *, reveal: bool) -> str:
    """The number as written at home, masked to its last four digits unless revealed."""
    if not e164:
        return ""
    if not reveal:
        return phone.mask(_national_digits(e164))
    try:
        return phone.national(e164)
    except Exception:  # a stored number phonenumbers cannot parse is still shown as stored
        return e164


def _local(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime(TIME_FORMAT) if moment else ""


def _range(choice: ExportChoice, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return booking.day_bounds(choice.first_day, tz)[0], booking.day_bounds(choice.last_day, tz)[1]


def _calls_query(choice: ExportChoice, tz: ZoneInfo):
    start, end = _range(choice, tz)
    return (
        select(Call.id, Call.started_at, Call.call_sid, Call.direction, Call.from_e164,
               Call.to_number, Call.language, Call.status, Call.outcome, Call.queued_at,
               Call.answered_at, Call.ended_at, Call.duration_seconds, Operator.username,
               Call.disposition)
        .outerjoin(Operator, Operator.id == Call.operator_id)
        .where(Call.started_at >= start, Call.started_at < end)
        .order_by(Call.started_at, Call.id)
    )


def _inquiries_query(choice: ExportChoice, tz: ZoneInfo):
    start, end = _range(choice, tz)
    assignee = aliased(Operator)
    return (
        select(Inquiry.id, Inquiry.reference, Inquiry.created_at, Inquiry.category,
               Inquiry.subject, Inquiry.status, Inquiry.channel, Inquiry.contact_e164,
               assignee.username, Inquiry.due_at, Inquiry.closed_at)
        .outerjoin(assignee, assignee.id == Inquiry.assigned_to_id)
        .where(Inquiry.created_at >= start, Inquiry.created_at < end)
        .order_by(Inquiry.created_at, Inquiry.id)
    )


def count_rows(session: Session, choice: ExportChoice, tz: ZoneInfo) -> int:
    """How many rows the export will hold."""
    start, end = _range(choice, tz)
    if choice.kind == "calls":
        query = select(func.count()).where(Call.started_at >= start, Call.started_at < end)
    else:
        query = select(func.count()).where(Inquiry.created_at >= start, Inquiry.created_at < end)
    return int(session.scalar(query) or 0)


def header(choice: ExportChoice, t: Translate, tz: ZoneInfo) -> list[str]:
    """Column titles in the user's language; times are local to the city's zone."""
    zone = f" ({tz.key})"
    if choice.kind == "calls":
        return [t("export_started_at") + zone, "CallSid", t("export_direction"),
                t("export_caller"), t("language"), t("status"), t("export_outcome"),
                t("export_queued_at") + zone, t("export_answered_at") + zone,
                t("export_ended_at") + zone, t("export_duration"), t("export_operator"),
                t("export_disposition")]
    return [t("inquiry_reference"), t("created_at") + zone, t("category"), t("subject"),
            t("status"), t("channel"), t("contact_phone"), t("assigned_to"),
            t("due_date") + zone, t("export_closed_at") + zone]


def _call_row(row, tz: ZoneInfo, reveal: bool, _named) -> list[object]:
    # The resident's number: who called in, or whom a callback called.
    resident_number = row.from_e164 if row.direction == "inbound" else row.to_number
    return [_local(row.started_at, tz), row.call_sid, row.direction,
            shown_phone(resident_number, reveal=reveal), row.language or "", row.status,
            row.outcome or "", _local(row.queued_at, tz), _local(row.answered_at, tz),
            _local(row.ended_at, tz),
            row.duration_seconds if row.duration_seconds is not None else "",
            row.username or "", row.disposition or ""]


def _inquiry_row(row, tz: ZoneInfo, reveal: bool, named) -> list[object]:
    return [row.reference, _local(row.created_at, tz), named(row.category), row.subject, row.status,
            row.channel, shown_phone(row.contact_e164, reveal=reveal), row.username or "",
            _local(row.due_at, tz), _local(row.closed_at, tz)]


def rows(session: Session, choice: ExportChoice, tz: ZoneInfo, *,
         reveal_phones: bool, category_name=lambda key: key) -> Iterator[list[object]]:
    """The export's rows, a batch at a time in (time, id) order; categories by category_name.

    Each batch is its own short read: the transaction ends before the batch is written out,
    so a slow download never holds SQLite's write lock or an old PostgreSQL snapshot.
    """
    if choice.kind == "calls":
        query, moment, make = _calls_query(choice, tz), Call.started_at, _call_row
        key = Call.id
    else:
        query, moment, make = _inquiries_query(choice, tz), Inquiry.created_at, _inquiry_row
        key = Inquiry.id
    after: tuple[datetime, int] | None = None
    while True:
        # The plain `>=` lets the time index start the scan at the last row sent; the rest
        # breaks ties on the id, so no batch rescans the range from its start.
        page = query if after is None else query.where(
            moment >= after[0], or_(moment > after[0], and_(moment == after[0], key > after[1])))
        batch = session.execute(page.limit(BATCH_ROWS)).all()
        lines = [make(row, tz, reveal_phones, category_name) for row in batch]
        if batch:
            after = (batch[-1][1] if choice.kind == "calls" else batch[-1][2], batch[-1][0])
        session.commit()
        yield from lines
        if len(batch) < BATCH_ROWS:
            return


def record_export(session: Session, actor: Actor, choice: ExportChoice, tz: ZoneInfo, *,
                  reveal_phones: bool) -> int:
    """Write the export's audit row before any data leaves; returns the row count."""
    count = count_rows(session, choice, tz)
    actor.audit(session, "export", choice.kind, detail={
        "first_day": choice.first_day.isoformat(), "last_day": choice.last_day.isoformat(),
        "rows": count, "phones_masked": not reveal_phones,
    })
    return count


def filename(choice: ExportChoice) -> str:
    """An ASCII download name saying what and which range."""
    return f"{choice.kind}-{choice.first_day.isoformat()}-{choice.last_day.isoformat()}.csv"
