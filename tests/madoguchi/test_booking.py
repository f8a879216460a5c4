"""The booking rules: holds, confirmations, cancellations, moves, and exact counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from madoguchi import booking, codes
from madoguchi.models import Slot
from tests import factories


@pytest.fixture
def world(db_session):
    campaign = factories.campaign(db_session)
    site = factories.site(db_session)
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id, capacity=2)
    other = factories.slot(
        db_session, campaign_id=campaign.id, site_id=site.id,
        starts_at=slot.starts_at + timedelta(minutes=30), capacity=2,
    )
    db_session.commit()
    return campaign, site, slot, other


def test_a_booking_gets_a_seven_digit_reference_with_a_valid_check_digit(db_session, world):
    _, _, slot, _ = world
    resident = factories.resident(db_session)
    made = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="ivr")
    assert made.status == "confirmed"
    assert len(made.reference) == 7 and codes.kind_of(made.reference) == "booking"
    assert db_session.get(Slot, slot.id).booked_count == 1


def test_a_full_slot_refuses_the_next_booker_with_slot_full(db_session, world):
    _, _, slot, _ = world
    a, b, c = factories.residents(db_session, 3)
    booking.book(db_session, slot_id=slot.id, resident_id=a.id, channel="ivr")
    booking.book(db_session, slot_id=slot.id, resident_id=b.id, channel="api")
    with pytest.raises(booking.SlotFull) as refused:
        booking.book(db_session, slot_id=slot.id, resident_id=c.id, channel="operator")
    assert refused.value.code == "slot_full"
    assert db_session.get(Slot, slot.id).booked_count == 2


def test_a_second_booking_in_the_same_campaign_names_the_existing_one(db_session, world):
    _, _, slot, other = world
    resident = factories.resident(db_session)
    first = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="ivr")
    with pytest.raises(booking.AlreadyBooked) as refused:
        booking.book(db_session, slot_id=other.id, resident_id=resident.id, channel="api")
    assert refused.value.existing.reference == first.reference
    assert db_session.get(Slot, other.id).booked_count == 0


def test_the_same_idempotency_key_never_books_twice(db_session, world):
    _, _, slot, _ = world
    resident = factories.resident(db_session)
    first = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="api",
                         idempotency_key="web-123")
    again = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="api",
                         idempotency_key="web-123")
    assert again.id == first.id
    assert db_session.get(Slot, slot.id).booked_count == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(db_session, world):
    _, _, slot, other = world
    a, b = factories.residents(db_session, 2)
    booking.book(db_session, slot_id=slot.id, resident_id=a.id, channel="api", idempotency_key="k")
    with pytest.raises(booking.IdempotencyConflict):
        booking.book(db_session, slot_id=other.id, resident_id=b.id, channel="api",
                     idempotency_key="k")


def test_cancelling_frees_the_place_and_is_harmless_twice(db_session, world):
    _, _, slot, _ = world
    resident = factories.resident(db_session)
    made = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="ivr")
    booking.cancel(db_session, made.reference, reason="resident asked")
    booking.cancel(db_session, made.reference)
    assert db_session.get(Slot, slot.id).booked_count == 0
    rebooked = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="ivr")
    assert rebooked.reference != made.reference


def test_cancelling_an_unknown_reference_is_not_found(db_session, world):
    with pytest.raises(booking.BookingNotFound):
        booking.cancel(db_session, "1234567")


def test_a_hold_keeps_the_place_until_it_expires(db_session, world):
    _, _, slot, _ = world
    a, b, c = factories.residents(db_session, 3)
    now = datetime.now(UTC)
    held = booking.hold(db_session, slot_id=slot.id, resident_id=a.id, channel="ivr",
                        hold_minutes=5, now=now)
    booking.book(db_session, slot_id=slot.id, resident_id=b.id, channel="ivr", now=now)
    with pytest.raises(booking.SlotFull):
        booking.book(db_session, slot_id=slot.id, resident_id=c.id, channel="ivr", now=now)
    later = now + timedelta(minutes=6)
    booking.book(db_session, slot_id=slot.id, resident_id=c.id, channel="ivr", now=later)
    with pytest.raises(booking.HoldExpired):
        booking.confirm(db_session, held.reference, now=later)
    assert booking.find_booking(db_session, held.reference).status == "expired"
    assert db_session.get(Slot, slot.id).booked_count == 2


def test_a_confirmed_hold_stays_and_confirming_twice_is_harmless(db_session, world):
    _, _, slot, _ = world
    resident = factories.resident(db_session)
    held = booking.hold(db_session, slot_id=slot.id, resident_id=resident.id, channel="ivr")
    assert booking.confirm(db_session, held.reference).status == "confirmed"
    assert booking.confirm(db_session, held.reference).status == "confirmed"
    assert booking.release_expired_holds(db_session, datetime.now(UTC) + timedelta(days=1)) == 0


def test_rescheduling_moves_the_place_and_keeps_the_reference(db_session, world):
    _, _, slot, other = world
    resident = factories.resident(db_session)
    made = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="operator")
    moved = booking.reschedule(db_session, made.reference, other.id)
    assert moved.reference == made.reference and moved.slot_id == other.id
    assert db_session.get(Slot, slot.id).booked_count == 0
    assert db_session.get(Slot, other.id).booked_count == 1


def test_rescheduling_into_a_full_slot_leaves_the_booking_where_it_was(db_session, world):
    _, _, slot, other = world
    a, b, c = factories.residents(db_session, 3)
    made = booking.book(db_session, slot_id=slot.id, resident_id=a.id, channel="ivr")
    booking.book(db_session, slot_id=other.id, resident_id=b.id, channel="ivr")
    booking.book(db_session, slot_id=other.id, resident_id=c.id, channel="ivr")
    with pytest.raises(booking.SlotFull):
        booking.reschedule(db_session, made.reference, other.id)
    assert booking.find_booking(db_session, made.reference).slot_id == slot.id
    assert db_session.get(Slot, slot.id).booked_count == 1


def test_a_channel_quota_reserves_places_for_other_channels(db_session, world):
    campaign, site, _, _ = world
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id, capacity=3,
                          quota_api=1)
    db_session.commit()
    a, b, c = factories.residents(db_session, 3)
    booking.book(db_session, slot_id=slot.id, resident_id=a.id, channel="api")
    with pytest.raises(booking.SlotFull):
        booking.book(db_session, slot_id=slot.id, resident_id=b.id, channel="api")
    booking.book(db_session, slot_id=slot.id, resident_id=c.id, channel="ivr")
    assert [s.id for s in booking.open_slots(db_session, channel="api",
                                              campaign_id=campaign.id)].count(slot.id) == 0


def test_a_started_slot_or_closed_campaign_cannot_be_booked(db_session, world):
    campaign, site, slot, _ = world
    resident = factories.resident(db_session)
    past = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id,
                          starts_at=datetime.now(UTC) - timedelta(hours=1))
    db_session.commit()
    with pytest.raises(booking.NotEligible):
        booking.book(db_session, slot_id=past.id, resident_id=resident.id, channel="ivr")
    campaign.active = False
    db_session.commit()
    with pytest.raises(booking.NotEligible):
        booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="ivr")


def test_open_slots_lists_the_earliest_slots_with_places(db_session, world):
    campaign, _, slot, other = world
    a, b = factories.residents(db_session, 2)
    booking.book(db_session, slot_id=slot.id, resident_id=a.id, channel="ivr")
    booking.book(db_session, slot_id=slot.id, resident_id=b.id, channel="ivr")
    found = booking.open_slots(db_session, campaign_id=campaign.id, limit=3)
    assert [s.id for s in found] == [other.id]


def test_counts_come_from_rows_and_reconcile_finds_a_tampered_counter(db_session, world):
    _campaign, _, slot, _ = world
    a, b = factories.residents(db_session, 2)
    made = booking.book(db_session, slot_id=slot.id, resident_id=a.id, channel="ivr")
    booking.book(db_session, slot_id=slot.id, resident_id=b.id, channel="api")
    booking.cancel(db_session, made.reference)
    (row,) = booking.slot_counts(db_session, slot_ids=[slot.id])
    assert (row.capacity, row.booked, row.cancelled, row.remaining) == (2, 1, 1, 1)
    assert row.reconciled
    assert booking.reconcile(db_session) == []

    db_session.execute(update(Slot).where(Slot.id == slot.id).values(booked_count=0))
    db_session.commit()
    found = booking.reconcile(db_session)
    assert [(d.slot_id, d.counter, d.stored, d.counted) for d in found] == [
        (slot.id, "booked_count", 0, 1)
    ]
    booking.reconcile(db_session, repair=True)
    assert booking.reconcile(db_session) == []


def test_the_database_itself_refuses_a_counter_beyond_capacity(db_session, world):
    _, _, slot, _ = world
    with pytest.raises(IntegrityError):
        db_session.execute(update(Slot).where(Slot.id == slot.id).values(booked_count=3))
        db_session.flush()
    db_session.rollback()
