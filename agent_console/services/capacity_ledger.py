"""The capacity ledger the city publishes: per campaign, day and slot, counted from booking rows.

Every number comes from madoguchi.booking.slot_counts (the booking rows), never from the slots'
stored counters; the counter is shown beside it only to say whether the two agree, so a total
such as "487 booked" is always the number of rows and a drifted counter is visible per slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from madoguchi import booking
from madoguchi.models import Campaign

# The ledger's columns, in the order of the page and the CSV.
COUNT_FIELDS = ("capacity", "booked", "held", "confirmed", "attended", "no_show", "cancelled",
                "overridden", "remaining")


class LedgerError(ValueError):
    """The ledger cannot be shown for this choice; `key` is the console message saying why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class LedgerChoice:
    """Which part of the ledger: a campaign and, optionally, a first and last local day."""

    campaign_id: int
    first_day: date | None = None
    last_day: date | None = None


@dataclass(frozen=True)
class LedgerLine:
    """One slot's numbers (all counted from rows) and whether its stored counter agrees."""

    day: date
    starts_at: time
    site_name: str
    capacity: int
    booked: int
    held: int
    confirmed: int
    attended: int
    no_show: int
    cancelled: int
    overridden: int
    remaining: int
    counter: int
    reconciled: bool


@dataclass
class LedgerTotals:
    """Sums of ledger lines, and how many of them disagree with their counter."""

    slots: int = 0
    unreconciled: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_FIELDS, 0))

    def add(self, line: LedgerLine) -> None:
        """Count one more slot."""
        self.slots += 1
        self.unreconciled += 0 if line.reconciled else 1
        for name in COUNT_FIELDS:
            self.counts[name] += getattr(line, name)


@dataclass
class LedgerDay:
    """One local day: its slots and their subtotal."""

    day: date
    lines: list[LedgerLine] = field(default_factory=list)
    totals: LedgerTotals = field(default_factory=LedgerTotals)


@dataclass
class Ledger:
    """The chosen campaign's ledger: days with their slots, and the grand total."""

    campaign: Campaign
    choice: LedgerChoice
    days: list[LedgerDay]
    totals: LedgerTotals

    @property
    def lines(self) -> Iterator[LedgerLine]:
        """Every slot line, in time order."""
        for day in self.days:
            yield from day.lines


def campaigns(session: Session) -> list[Campaign]:
    """Every campaign, active ones first, newest first."""
    return list(session.scalars(
        select(Campaign).order_by(Campaign.active.desc(), Campaign.id.desc())))


def check_choice(choice: LedgerChoice) -> None:
    """Refuse a range that ends before it starts."""
    if choice.first_day and choice.last_day and choice.last_day < choice.first_day:
        raise LedgerError("range_reversed")


def _bounds(choice: LedgerChoice, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    start = booking.day_bounds(choice.first_day, tz)[0] if choice.first_day else None
    end = booking.day_bounds(choice.last_day, tz)[1] if choice.last_day else None
    return start, end


def _line(count: booking.SlotCount, tz: ZoneInfo) -> LedgerLine:
    local = count.starts_at.astimezone(tz)
    return LedgerLine(
        day=local.date(), starts_at=local.time(), site_name=count.site_name,
        capacity=count.capacity, booked=count.booked, held=count.held,
        confirmed=count.confirmed, attended=count.attended, no_show=count.no_show,
        cancelled=count.cancelled, overridden=count.overridden, remaining=count.remaining,
        counter=count.stored_booked + count.stored_overridden, reconciled=count.reconciled,
    )


def build(session: Session, choice: LedgerChoice, tz: ZoneInfo) -> Ledger:
    """The ledger for the choice, counted from booking rows; raises LedgerError on a bad choice."""
    check_choice(choice)
    campaign = session.get(Campaign, choice.campaign_id)
    if campaign is None:
        raise LedgerError("campaign_unknown")
    start, end = _bounds(choice, tz)
    days: dict[date, LedgerDay] = {}
    totals = LedgerTotals()
    for count in booking.slot_counts(session, campaign_id=campaign.id, start=start, end=end):
        line = _line(count, tz)
        day = days.setdefault(line.day, LedgerDay(line.day))
        day.lines.append(line)
        day.totals.add(line)
        totals.add(line)
    return Ledger(campaign=campaign, choice=choice, days=list(days.values()), totals=totals)


def csv_header(t) -> list[str]:
    """The CSV's column titles in the user's language (t is the console's translate)."""
    return [t("date"), t("ledger_time"), t("site"),
            *[t(f"ledger_{name}") for name in COUNT_FIELDS],
            t("ledger_counter"), t("ledger_reconciled")]


def csv_rows(ledger: Ledger, t) -> Iterator[list[object]]:
    """One row per slot, then the total row (the same sums as the page)."""
    for line in ledger.lines:
        yield [line.day.isoformat(), line.starts_at.strftime("%H:%M"), line.site_name,
               *[getattr(line, name) for name in COUNT_FIELDS], line.counter,
               t("ledger_ok") if line.reconciled else t("ledger_mismatch")]
    yield [t("ledger_total"), "", "", *[ledger.totals.counts[name] for name in COUNT_FIELDS],
           "", t("ledger_ok") if ledger.totals.unreconciled == 0 else t("ledger_mismatch")]


def filename(ledger: Ledger) -> str:
    """An ASCII download name saying which campaign and range."""
    first = ledger.choice.first_day.isoformat() if ledger.choice.first_day else "start"
    last = ledger.choice.last_day.isoformat() if ledger.choice.last_day else "end"
    code = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_"
                   for ch in ledger.campaign.code)
    return f"capacity-ledger-{code}-{first}-{last}.csv"

