"""The console's capacity ledger: one campaign's ledger from madoguchi.ledger, page and CSV.

The counting (per slot and per day, from booking rows, reconciled with the stored counters)
is the core's; here are the console's parts: which campaign and days, why a choice is refused,
the columns shown, the CSV's titles and the download's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from operator import add, attrgetter
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from madoguchi import ledger
from madoguchi.ledger import LedgerDay, LedgerLine, LedgerTotals
from madoguchi.models import Campaign

# The ledger's columns, in the order of the page and the CSV.
COUNT_FIELDS = ("capacity", "booked", "held", "confirmed", "attended", "no_show", "cancelled",
                "overridden", "remaining")


# The page lists each slot for at most this many days (a month of slots is a few hundred lines);
# a longer range shows its days and totals, each day a link to its slots, and the CSV keeps
# every slot of any range. Ten thousand slot lines made a 3 MB page that took seconds to write.
PAGE_SLOT_DAYS = 31


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


@dataclass
class CampaignLedger:
    """The chosen campaign's ledger: days with their slots, and the grand total."""

    campaign: Campaign
    choice: LedgerChoice
    counted: ledger.Ledger
    # Whether the page lists each slot (see build); the CSV always does.
    page_shows_slots: bool = True

    @property
    def days(self) -> list[LedgerDay]:
        """The local days in time order, each with its slots and subtotal."""
        return self.counted.days

    @property
    def totals(self) -> LedgerTotals:
        """The grand total."""
        return self.counted.totals

    @property
    def lines(self) -> Iterator[LedgerLine]:
        """Every slot line, in time order."""
        return self.counted.lines


def campaigns(session: Session) -> list[Campaign]:
    """Every campaign, active ones first, newest first."""
    return list(session.scalars(
        select(Campaign).order_by(Campaign.active.desc(), Campaign.id.desc())))


def check_choice(choice: LedgerChoice) -> None:
    """Refuse a range that ends before it starts."""
    if choice.first_day and choice.last_day and choice.last_day < choice.first_day:
        raise LedgerError("range_reversed")


def chosen_campaign(session: Session, choice: LedgerChoice) -> Campaign:
    """The choice's campaign; raises LedgerError on a reversed range or an unknown campaign."""
    check_choice(choice)
    campaign = session.get(Campaign, choice.campaign_id)
    if campaign is None:
        raise LedgerError("campaign_unknown")
    return campaign


def build(session: Session, choice: LedgerChoice, tz: ZoneInfo, *,
          every_slot: bool = True) -> CampaignLedger:
    """The ledger for the choice, counted from booking rows; raises LedgerError on a bad choice.

    every_slot=False (the page) keeps the slot lines only when the chosen slots span at most
    PAGE_SLOT_DAYS days; a longer ledger comes with its days and totals alone, summed by the
    database.
    """
    campaign = chosen_campaign(session, choice)
    chosen = {"campaign_id": campaign.id, "first_day": choice.first_day,
              "last_day": choice.last_day}
    if not every_slot:
        span = ledger.slot_span(session, tz, **chosen)
        if span is not None and (span[1] - span[0]).days + 1 > PAGE_SLOT_DAYS:
            return CampaignLedger(campaign=campaign, choice=choice,
                                  counted=ledger.count_days(session, tz, **chosen),
                                  page_shows_slots=False)
    return CampaignLedger(campaign=campaign, choice=choice,
                          counted=ledger.count(session, tz, **chosen))


def csv_header(t) -> list[str]:
    """The CSV's column titles in the user's language (t is the console's translate)."""
    return [t("date"), t("ledger_time"), t("site"),
            *[t(f"ledger_{name}") for name in COUNT_FIELDS],
            t("ledger_counter"), t("ledger_reconciled")]


def csv_rows(campaign_ledger: CampaignLedger, t) -> Iterator[list[object]]:
    """One row per slot, then the total row (the same sums as the page)."""
    ok, mismatch = t("ledger_ok"), t("ledger_mismatch")
    counts = attrgetter(*COUNT_FIELDS)
    for line in campaign_ledger.lines:
        yield [line.day.isoformat(), line.starts_at.strftime("%H:%M"), line.site_name,
               *counts(line), line.counter, ok if line.reconciled else mismatch]
    totals = campaign_ledger.totals
    yield [t("ledger_total"), "", "", *[totals.counts[name] for name in COUNT_FIELDS],
           "", ok if totals.unreconciled == 0 else mismatch]


def slot_total(session: Session, choice: LedgerChoice, tz: ZoneInfo) -> int:
    """How many slot lines the CSV of the choice has (its total row aside)."""
    return ledger.slot_total(session, tz, campaign_id=choice.campaign_id,
                             first_day=choice.first_day, last_day=choice.last_day)


def streamed_csv_rows(session: Session, choice: LedgerChoice, tz: ZoneInfo,
                      t) -> Iterator[list[object]]:
    """csv_rows of the choice's ledger, streamed: each slot's row as the database returns it,
    then the total row summed on the way (the same rows as csv_rows(build(...)), tested).

    A download of every slot of a campaign (10,000 lines) spent most of its time making line
    and day objects it only wrote out once."""
    ok, mismatch = t("ledger_ok"), t("ledger_mismatch")
    sums = [0] * len(COUNT_FIELDS)
    unreconciled = 0
    end = 2 + len(COUNT_FIELDS)
    for row in ledger.line_rows(session, tz, COUNT_FIELDS, campaign_id=choice.campaign_id,
                                first_day=choice.first_day, last_day=choice.last_day):
        starts_at, numbers, reconciled = row[0], row[2:end], row[end + 1]
        sums = list(map(add, sums, numbers))
        unreconciled += not reconciled
        yield [starts_at.date().isoformat(), f"{starts_at.hour:02d}:{starts_at.minute:02d}",
               row[1], *numbers, row[end], ok if reconciled else mismatch]
    yield [t("ledger_total"), "", "", *sums, "", ok if unreconciled == 0 else mismatch]


def filename(campaign_ledger: CampaignLedger) -> str:
    """An ASCII download name saying which campaign and range."""
    return download_name(campaign_ledger.campaign, campaign_ledger.choice)


def download_name(campaign: Campaign, choice: LedgerChoice) -> str:
    """An ASCII download name saying which campaign and range."""
    first = choice.first_day.isoformat() if choice.first_day else "start"
    last = choice.last_day.isoformat() if choice.last_day else "end"
    code = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "_"
                   for ch in campaign.code)
    return f"capacity-ledger-{code}-{first}-{last}.csv"

