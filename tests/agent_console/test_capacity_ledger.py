"""The capacity ledger: every published number is the count of booking rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from agent_console.services import capacity_ledger
from agent_console.services.capacity_ledger import LedgerChoice, LedgerError
from madoguchi.models import Booking, Resident, Slot
from tests import factories

TOKYO = ZoneInfo("Asia/Tokyo")
PLACE_TAKING = ("held", "confirmed", "attended", "no_show")
_codes = count(1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO).astimezone(UTC)


def add_bookings(session, slot: Slot, statuses: list[str], *, overridden: int = 0,
                 counter_drift: int = 0) -> None:
    """Booking rows with the given statuses, and the slot's counter as the rows say (+ drift)."""
    residents = [Resident(resident_no=f"L{next(_codes):07d}", name="台帳 太郎",
                          name_kana="ダイチョウ タロウ", birth_date=date(1950, 1, 1))
                 for _ in statuses]
    session.add_all(residents)
    session.flush()
    session.add_all([
        Booking(reference=f"R{next(_codes):09d}", slot_id=slot.id, campaign_id=slot.campaign_id,
                resident_id=resident.id, status=status, channel="ivr",
                overridden=index < overridden)
        for index, (resident, status) in enumerate(zip(residents, statuses, strict=True))
    ])
    taken = sum(status in PLACE_TAKING for status in statuses)
    exceptions = sum(status in PLACE_TAKING for status in statuses[:overridden])
    session.execute(update(Slot).where(Slot.id == slot.id).values(
        booked_count=taken - exceptions + counter_drift,
        booked_ivr=taken - exceptions + counter_drift, overridden_count=exceptions))
    session.flush()


@pytest.fixture
def round_one(db_session):
    """A campaign over two days at two sites, with bookings of every status."""
    campaign = factories.campaign(db_session)
    hall, school = factories.site(db_session, name="みどり市民会館"), factories.site(db_session)
    day1, day2 = date(2031, 10, 6), date(2031, 10, 7)
    slots = {
        "d1_0900": factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                                  starts_at=local(day1, 9), capacity=10),
        "d1_0930": factories.slot(db_session, campaign_id=campaign.id, site_id=school.id,
                                  starts_at=local(day1, 9, 30), capacity=5),
        "d2_0900": factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                                  starts_at=local(day2, 9), capacity=10),
    }
    add_bookings(db_session, slots["d1_0900"],
                 ["confirmed"] * 4 + ["held", "attended", "no_show", "cancelled", "expired"],
                 overridden=1)
    add_bookings(db_session, slots["d1_0930"], ["confirmed"] * 5 + ["cancelled"] * 2)
    add_bookings(db_session, slots["d2_0900"], ["confirmed", "cancelled"])
    other = factories.campaign(db_session)
    stray = factories.slot(db_session, campaign_id=other.id, site_id=hall.id,
                           starts_at=local(day1, 9), capacity=10)
    add_bookings(db_session, stray, ["confirmed"] * 3)
    return {"campaign": campaign, "slots": slots, "day1": day1, "day2": day2}


def test_each_slot_line_counts_its_booking_rows_by_status(db_session, round_one):
    ledger = capacity_ledger.build(db_session, LedgerChoice(round_one["campaign"].id), TOKYO)
    first = next(iter(ledger.lines))
    assert (first.day, first.starts_at.strftime("%H:%M"), first.site_name) == (
        round_one["day1"], "09:00", "みどり市民会館")
    assert (first.capacity, first.booked, first.held, first.confirmed, first.attended,
            first.no_show, first.cancelled, first.overridden, first.remaining) == (
        10, 7, 1, 4, 1, 1, 1, 1, 3)
    assert first.reconciled and first.counter == 7


def test_day_subtotals_and_the_total_are_sums_of_the_lines(db_session, round_one):
    ledger = capacity_ledger.build(db_session, LedgerChoice(round_one["campaign"].id), TOKYO)
    assert [day.day for day in ledger.days] == [round_one["day1"], round_one["day2"]]
    assert ledger.days[0].totals.counts["booked"] == 12
    assert ledger.days[0].totals.counts["remaining"] == 3
    assert ledger.totals.slots == 3
    assert ledger.totals.counts["capacity"] == 25
    assert ledger.totals.counts["booked"] == 13
    assert ledger.totals.counts["cancelled"] == 4
    assert ledger.totals.unreconciled == 0


def test_a_day_range_keeps_only_slots_starting_on_those_local_days(db_session, round_one):
    choice = LedgerChoice(round_one["campaign"].id, round_one["day2"], round_one["day2"])
    ledger = capacity_ledger.build(db_session, choice, TOKYO)
    assert [line.day for line in ledger.lines] == [round_one["day2"]]
    assert ledger.totals.counts["booked"] == 1


def test_the_published_total_is_the_rows_even_when_counters_say_more(db_session):
    """487 residents booked, the counters say 502: the ledger publishes 487 and says why."""
    campaign, hall = factories.campaign(db_session), factories.site(db_session)
    day = date(2031, 11, 4)
    slots = [factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                            starts_at=local(day, 9) + timedelta(minutes=30 * index), capacity=10)
             for index in range(52)]
    booked_per_slot = [10] * 34 + [8] * 15 + [9] * 3  # 487 rows
    for slot, booked in zip(slots, booked_per_slot, strict=True):
        # The counters of the fifteen slots of eight drifted one over their rows.
        add_bookings(db_session, slot, ["confirmed"] * booked + ["cancelled"],
                     counter_drift=1 if booked == 8 else 0)
    rows = db_session.scalar(select(func.count()).select_from(Booking).where(
        Booking.campaign_id == campaign.id, Booking.status.in_(PLACE_TAKING)))
    counters = db_session.scalar(select(func.sum(Slot.booked_count)).where(
        Slot.campaign_id == campaign.id))
    assert (rows, counters) == (487, 502)

    ledger = capacity_ledger.build(db_session, LedgerChoice(campaign.id), TOKYO)
    assert ledger.totals.counts["booked"] == rows
    assert ledger.totals.counts["remaining"] == 520 - 487
    assert ledger.totals.unreconciled == 15
    assert [line.counter - line.booked for line in ledger.lines if not line.reconciled] == [1] * 15


def test_the_csv_rows_are_the_page_lines_then_the_total(db_session, round_one):
    ledger = capacity_ledger.build(db_session, LedgerChoice(round_one["campaign"].id), TOKYO)

    def t(key, **values):
        return key

    header = capacity_ledger.csv_header(t)
    rows = list(capacity_ledger.csv_rows(ledger, t))
    assert len(header) == len(rows[0]) == len(rows[-1])
    assert rows[0][:4] == [round_one["day1"].isoformat(), "09:00", "みどり市民会館", 10]
    assert rows[-1][0] == "ledger_total"
    assert rows[-1][3:3 + len(capacity_ledger.COUNT_FIELDS)] == [
        ledger.totals.counts[name] for name in capacity_ledger.COUNT_FIELDS]


def test_the_streamed_csv_rows_are_the_csv_rows_of_the_built_ledger(db_session, round_one):
    campaign = round_one["campaign"]
    site = round_one["slots"]["d1_0900"].site_id
    # A slot beyond its capacity by an exception, and one whose counter drifted from its rows.
    full = factories.slot(db_session, campaign_id=campaign.id, site_id=site,
                          starts_at=local(round_one["day2"], 14, 45), capacity=2)
    add_bookings(db_session, full, ["confirmed"] * 3 + ["cancelled"], overridden=1)
    drifted = factories.slot(db_session, campaign_id=campaign.id, site_id=site,
                             starts_at=local(round_one["day2"], 23, 30), capacity=4)
    add_bookings(db_session, drifted, ["held", "no_show"], counter_drift=2)

    def t(key, **values):
        return key

    for choice in (LedgerChoice(campaign.id),
                   LedgerChoice(campaign.id, round_one["day2"], round_one["day2"]),
                   LedgerChoice(campaign.id, round_one["day1"], round_one["day1"])):
        built = capacity_ledger.build(db_session, choice, TOKYO)
        expected = list(capacity_ledger.csv_rows(built, t))
        assert list(capacity_ledger.streamed_csv_rows(db_session, choice, TOKYO, t)) == expected
        assert capacity_ledger.slot_total(db_session, choice, TOKYO) == built.totals.slots
    whole = list(capacity_ledger.streamed_csv_rows(db_session, LedgerChoice(campaign.id),
                                                   TOKYO, t))
    assert [row[-1] for row in whole] == ["ledger_ok"] * 4 + ["ledger_mismatch"] * 2
    assert whole[3][2 + capacity_ledger.COUNT_FIELDS.index("remaining") + 1] == 0


def test_a_reversed_range_or_unknown_campaign_is_refused_with_a_reason(db_session, round_one):
    with pytest.raises(LedgerError) as reversed_range:
        capacity_ledger.build(db_session, LedgerChoice(round_one["campaign"].id,
                                                       round_one["day2"], round_one["day1"]),
                              TOKYO)
    assert reversed_range.value.key == "range_reversed"
    with pytest.raises(LedgerError) as unknown:
        capacity_ledger.build(db_session, LedgerChoice(999_999), TOKYO)
    assert unknown.value.key == "campaign_unknown"
