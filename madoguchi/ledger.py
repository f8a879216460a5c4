"""The capacity ledger: per slot and per local day, every number counted from booking rows.

The numbers come from madoguchi.booking.slot_counts (the booking rows), never from the slots'
stored counters; a slot's counter is kept beside its line only to say whether the two agree,
so a total such as "487 booked" is always the number of rows and a drifted counter is visible
per slot. The public API (/api/counts) and the console's ledger page and CSV read this ledger.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from madoguchi import booking, local_days
from madoguchi.models import Slot

# The numbers of a line that add up in a day's subtotal and in the total. `remaining` is summed
# per slot: free places in one slot cannot absorb another slot's overflow.
SUMMED = ("capacity", "booked", "held", "confirmed", "attended", "no_show", "cancelled",
          "overridden", "beyond_capacity", "remaining")


@dataclass(frozen=True)
class LedgerLine:
    """One slot's numbers (all counted from rows) and whether its stored counters agree."""

    slot_id: int
    campaign_id: int
    site_id: int
    site_name: str
    starts_at: datetime  # in the city's time zone
    capacity: int
    booked: int
    held: int
    confirmed: int
    attended: int
    no_show: int
    cancelled: int
    overridden: int  # bookings ever made beyond capacity, cancelled ones included
    beyond_capacity: int  # those of them still taking a place
    remaining: int
    counter: int  # the slot's stored counters: places taken plus exceptions
    reconciled: bool

    @property
    def day(self) -> date:
        """The local calendar day the slot starts on."""
        return self.starts_at.date()


@dataclass
class LedgerTotals:
    """Sums of ledger lines, and how many of them disagree with their counters."""

    slots: int = 0
    unreconciled: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUMMED, 0))

    def add(self, line: LedgerLine) -> None:
        """Count one more slot."""
        self.slots += 1
        self.unreconciled += 0 if line.reconciled else 1
        for name in SUMMED:
            self.counts[name] += getattr(line, name)

    @classmethod
    def of(cls, lines: list[LedgerLine]) -> LedgerTotals:
        """The sums of the lines (the same as adding them one by one, column-wise at once)."""
        sums = map(sum, zip(*map(_summed_values, lines), strict=True)) if lines else ()
        return cls(slots=len(lines), unreconciled=sum(not line.reconciled for line in lines),
                   counts=dict(zip(SUMMED, sums, strict=True)) if lines
                   else dict.fromkeys(SUMMED, 0))

    def merged(self, others: list[LedgerTotals]) -> LedgerTotals:
        """These totals and the others together (the grand total of day subtotals)."""
        for other in others:
            self.slots += other.slots
            self.unreconciled += other.unreconciled
            for name in SUMMED:
                self.counts[name] += other.counts[name]
        return self


@dataclass
class LedgerDay:
    """One local day: its slots and their subtotal."""

    day: date
    lines: list[LedgerLine] = field(default_factory=list)
    totals: LedgerTotals = field(default_factory=LedgerTotals)


@dataclass
class Ledger:
    """Days in time order with their slots, and the grand total."""

    days: list[LedgerDay]
    totals: LedgerTotals

    @property
    def lines(self) -> Iterator[LedgerLine]:
        """Every slot line, in time order."""
        for day in self.days:
            yield from day.lines


_summed_values = attrgetter(*SUMMED)


def line_of(count: booking.SlotCount, tz: ZoneInfo) -> LedgerLine:
    """A slot's ledger line from its counted rows."""
    return LedgerLine(
        slot_id=count.slot_id, campaign_id=count.campaign_id, site_id=count.site_id,
        site_name=count.site_name, starts_at=count.starts_at.astimezone(tz),
        capacity=count.capacity, booked=count.booked, held=count.held,
        confirmed=count.confirmed, attended=count.attended, no_show=count.no_show,
        cancelled=count.cancelled, overridden=count.overridden,
        beyond_capacity=count.active_overridden, remaining=count.remaining,
        counter=count.stored_booked + count.stored_overridden, reconciled=count.reconciled,
    )


def count(
    session: Session,
    tz: ZoneInfo,
    *,
    campaign_id: int | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
) -> Ledger:
    """The ledger of the slots starting on first_day to last_day (local days, both optional)."""
    start, end = _bounds(tz, first_day, last_day)
    lines: dict[date, list[LedgerLine]] = {}
    for slot_count in booking.slot_counts(session, campaign_id=campaign_id, start=start, end=end):
        line = line_of(slot_count, tz)
        lines.setdefault(line.day, []).append(line)
    days = [LedgerDay(day, day_lines, LedgerTotals.of(day_lines))
            for day, day_lines in lines.items()]
    return Ledger(days=days, totals=LedgerTotals().merged([day.totals for day in days]))


def _bounds(tz: ZoneInfo, first_day: date | None,
            last_day: date | None) -> tuple[datetime | None, datetime | None]:
    return (booking.day_bounds(first_day, tz)[0] if first_day else None,
            booking.day_bounds(last_day, tz)[1] if last_day else None)


def slot_span(
    session: Session,
    tz: ZoneInfo,
    *,
    campaign_id: int | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
) -> tuple[date, date] | None:
    """The local days on which the first and the last chosen slot start (None without slots)."""
    start, end = _bounds(tz, first_day, last_day)
    query = select(func.min(Slot.starts_at), func.max(Slot.starts_at))
    if campaign_id is not None:
        query = query.where(Slot.campaign_id == campaign_id)
    if start is not None:
        query = query.where(Slot.starts_at >= start)
    if end is not None:
        query = query.where(Slot.starts_at < end)
    earliest, latest = session.execute(query).one()
    if earliest is None:
        return None
    return earliest.astimezone(tz).date(), latest.astimezone(tz).date()


def count_days(
    session: Session,
    tz: ZoneInfo,
    *,
    campaign_id: int | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
) -> Ledger:
    """The same ledger's days and totals as count(), without slot lines: the database sums
    the slots of each local day (a few hundred rows back instead of every slot)."""
    span = slot_span(session, tz, campaign_id=campaign_id, first_day=first_day,
                     last_day=last_day)
    if span is None:
        return Ledger(days=[], totals=LedgerTotals())
    start, end = booking.day_bounds(span[0], tz)[0], booking.day_bounds(span[1], tz)[1]
    slots = booking.slot_counts_query(campaign_id=campaign_id, start=start, end=end) \
        .order_by(None).subquery()
    day = local_days.day_number(session, slots.c.starts_at, start, end, tz).label("day")
    sums = _numbers(slots)
    rows = session.execute(
        select(day, func.count(), func.sum(case((_reconciled(slots), 0), else_=1)),
               *(func.sum(sums[name]) for name in SUMMED))
        .group_by(day).order_by(day))
    days = [LedgerDay(local_days.day_of(number), [], LedgerTotals(
                slots=int(count), unreconciled=int(unreconciled),
                counts={name: int(value) for name, value in zip(SUMMED, values, strict=True)}))
            for number, count, unreconciled, *values in rows]
    return Ledger(days=days, totals=LedgerTotals().merged([item.totals for item in days]))


def _numbers(slots) -> dict:
    """The SUMMED numbers of a line as SQL over a subquery of booking.slot_counts_query (the
    same definitions as line_of and SlotCount)."""
    remaining = case((slots.c.capacity > slots.c.booked, slots.c.capacity - slots.c.booked),
                     else_=0)
    return {"capacity": slots.c.capacity, "booked": slots.c.booked, "held": slots.c.held,
            "confirmed": slots.c.confirmed, "attended": slots.c.attended,
            "no_show": slots.c.no_show, "cancelled": slots.c.cancelled,
            "overridden": slots.c.overridden, "beyond_capacity": slots.c.active_overridden,
            "remaining": remaining}


def _reconciled(slots):
    """SlotCount.reconciled as SQL over a subquery of booking.slot_counts_query."""
    return and_(slots.c.stored_booked == slots.c.booked - slots.c.active_overridden,
                slots.c.stored_overridden == slots.c.active_overridden)


def slot_total(
    session: Session,
    tz: ZoneInfo,
    *,
    campaign_id: int | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
) -> int:
    """How many slots the ledger of these days has (its lines), without counting bookings."""
    start, end = _bounds(tz, first_day, last_day)
    chosen = booking.slot_choice(campaign_id=campaign_id, start=start, end=end)
    return int(session.scalar(select(func.count()).select_from(Slot).where(*chosen)) or 0)


# Rows fetched from the database at a time while streaming lines.
STREAM_ROWS = 2000


def line_rows(
    session: Session,
    tz: ZoneInfo,
    fields: tuple[str, ...],
    *,
    campaign_id: int | None = None,
    first_day: date | None = None,
    last_day: date | None = None,
) -> Iterator[tuple]:
    """The ledger's lines as plain rows, in count()'s order, streamed as the database returns
    them: (local start, site name, the numbers named in fields, counter, reconciled as 1 or 0).

    The same numbers as count()'s lines (tested), computed by the database, for a download of
    every slot: no line objects, no day lists, never the whole ledger in memory.
    """
    start, end = _bounds(tz, first_day, last_day)
    slots = booking.slot_counts_query(campaign_id=campaign_id, start=start, end=end) \
        .order_by(None).subquery()
    numbers = _numbers(slots)
    query = (
        select(slots.c.starts_at, slots.c.site_name, *(numbers[name] for name in fields),
               slots.c.stored_booked + slots.c.stored_overridden,
               case((_reconciled(slots), 1), else_=0))
        .order_by(slots.c.starts_at, slots.c.site_id)
    )
    for starts_at, *rest in session.execute(query,
                                            execution_options={"yield_per": STREAM_ROWS}):
        yield (starts_at.astimezone(tz), *rest)
