"""The capacity ledger in the core: per slot and per local day, every number from booking rows."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update

from madoguchi import booking, ledger
from madoguchi.models import Slot
from tests import factories

TOKYO = ZoneInfo("Asia/Tokyo")
DAY = date(2031, 10, 6)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO).astimezone(UTC)


def book(session, slot: Slot, n: int) -> list[str]:
    """n residents booked into the slot; their references."""
    return [booking.book(session, slot_id=slot.id, resident_id=person.id, channel="ivr").reference
            for person in factories.residents(session, n)]


def test_a_slot_line_counts_its_rows_and_agrees_with_the_stored_counters(db_session):
    campaign, hall = factories.campaign(db_session), factories.site(db_session, name="中央会館")
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                          starts_at=local(DAY, 9), capacity=3)
    references = book(db_session, slot, 3)
    booking.cancel(db_session, references[0])

    (line,) = ledger.count(db_session, TOKYO, campaign_id=campaign.id).lines
    assert (line.day, line.starts_at.strftime("%H:%M"), line.site_name) == (
        DAY, "09:00", "中央会館")
    assert (line.capacity, line.booked, line.confirmed, line.cancelled, line.remaining) == (
        3, 2, 2, 1, 1)
    assert (line.counter, line.reconciled) == (2, True)


def test_an_exception_counts_beyond_capacity_only_while_it_takes_a_place(db_session):
    campaign, hall = factories.campaign(db_session), factories.site(db_session)
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                          starts_at=local(DAY, 9), capacity=1)
    book(db_session, slot, 1)
    extra = booking.book_beyond_capacity(
        db_session, slot_id=slot.id, resident_id=factories.resident(db_session).id,
        operator_id=None, reason="付き添いの家族と同じ時間に")

    (line,) = ledger.count(db_session, TOKYO, campaign_id=campaign.id).lines
    assert (line.booked, line.overridden, line.beyond_capacity, line.remaining) == (2, 1, 1, 0)
    assert line.reconciled

    booking.cancel(db_session, extra.reference)
    (line,) = ledger.count(db_session, TOKYO, campaign_id=campaign.id).lines
    assert (line.booked, line.overridden, line.beyond_capacity, line.remaining) == (1, 1, 0, 0)
    assert line.reconciled


def test_days_are_the_city_s_local_days_and_their_totals_sum_their_slots(db_session):
    campaign, hall = factories.campaign(db_session), factories.site(db_session)
    first = factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                           starts_at=local(DAY, 9), capacity=4)
    # 08:30 on the next local day is still the previous day in UTC.
    early = factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                           starts_at=local(date(2031, 10, 7), 8, 30), capacity=2)
    second = factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                            starts_at=local(date(2031, 10, 7), 14), capacity=3)
    book(db_session, first, 1)
    book(db_session, early, 2)
    book(db_session, second, 1)

    counted = ledger.count(db_session, TOKYO, campaign_id=campaign.id)
    assert [(day.day, day.totals.slots) for day in counted.days] == [
        (DAY, 1), (date(2031, 10, 7), 2)]
    next_day = counted.days[1].totals.counts
    assert (next_day["capacity"], next_day["booked"], next_day["remaining"]) == (5, 3, 2)
    assert counted.totals.counts["booked"] == 4
    assert counted.totals.counts["remaining"] == 3 + 0 + 2


def test_a_day_range_keeps_the_slots_starting_on_those_local_days(db_session):
    campaign, hall = factories.campaign(db_session), factories.site(db_session)
    for day in (date(2031, 10, 5), DAY, date(2031, 10, 7)):
        factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                       starts_at=local(day, 0, 30))
    counted = ledger.count(db_session, TOKYO, campaign_id=campaign.id, first_day=DAY,
                           last_day=DAY)
    assert [line.day for line in counted.lines] == [DAY]


def test_a_drifted_counter_is_flagged_but_the_counts_stay_the_rows(db_session):
    campaign, hall = factories.campaign(db_session), factories.site(db_session)
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=hall.id,
                          starts_at=local(DAY, 9), capacity=5)
    book(db_session, slot, 2)
    db_session.execute(update(Slot).where(Slot.id == slot.id).values(booked_count=3))

    counted = ledger.count(db_session, TOKYO, campaign_id=campaign.id)
    (line,) = counted.lines
    assert (line.booked, line.remaining, line.counter, line.reconciled) == (2, 3, 3, False)
    assert counted.totals.unreconciled == 1


def test_the_database_s_day_sums_equal_the_days_of_the_slot_lines(db_session):
    from datetime import timedelta

    campaign, hall = factories.campaign(db_session), factories.site(db_session)
    other = factories.site(db_session)
    slots = []
    for offset, hour, capacity in ((0, 0, 2), (0, 23, 3), (1, 9, 1), (1, 10, 2), (3, 12, 4)):
        for site in (hall, other):
            slots.append(factories.slot(
                db_session, campaign_id=campaign.id, site_id=site.id,
                starts_at=local(DAY + timedelta(days=offset), hour, 30), capacity=capacity))
    for index, slot in enumerate(slots):
        references = book(db_session, slot, min(index % 3 + 1, slot.capacity))
        if index % 4 == 0:
            booking.cancel(db_session, references[0])
    booking.book_beyond_capacity(
        db_session, slot_id=slots[4].id, resident_id=factories.resident(db_session).id,
        operator_id=None, reason="付き添い")
    db_session.execute(update(Slot).where(Slot.id == slots[8].id).values(booked_count=0))
    db_session.expire_all()

    for first, last in ((None, None), (DAY + timedelta(days=1), None), (None, DAY)):
        lines = ledger.count(db_session, TOKYO, campaign_id=campaign.id, first_day=first,
                             last_day=last)
        summed = ledger.count_days(db_session, TOKYO, campaign_id=campaign.id, first_day=first,
                                   last_day=last)
        assert [(day.day, day.totals) for day in summed.days] == [
            (day.day, day.totals) for day in lines.days]
        assert summed.totals == lines.totals
        assert all(not day.lines for day in summed.days)
    assert ledger.count_days(db_session, TOKYO, campaign_id=campaign.id).totals.unreconciled == 1
    assert ledger.slot_span(db_session, TOKYO, campaign_id=campaign.id) == (
        DAY, DAY + timedelta(days=3))
    assert ledger.count_days(db_session, TOKYO, campaign_id=campaign.id + 1).days == []
