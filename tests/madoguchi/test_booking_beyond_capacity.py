"""Bookings a supervisor accepts beyond a slot's places: counted apart, never silent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from madoguchi import booking
from madoguchi.models import Booking, Slot
from tests import factories


@pytest.fixture
def full_slot(db_session):
    """A slot of two places, both booked, and a later slot of the same campaign with room."""
    campaign = factories.campaign(db_session)
    site = factories.site(db_session)
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id, capacity=2)
    later = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id,
                           starts_at=slot.starts_at + timedelta(minutes=30), capacity=2)
    for resident in factories.residents(db_session, 2):
        booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="ivr")
    return slot, later


def _counts(db_session, slot_id: int) -> booking.SlotCount:
    return booking.slot_counts(db_session, slot_ids=[slot_id])[0]


def test_a_full_slot_takes_the_exception_with_its_reason_and_the_ledger_shows_it(
        db_session, full_slot):
    slot, _ = full_slot
    resident = factories.resident(db_session)
    made = booking.book_beyond_capacity(db_session, slot_id=slot.id, resident_id=resident.id,
                                        operator_id=None, reason="  車椅子の方、付き添い同伴  ")
    assert (made.status, made.channel, made.overridden) == ("confirmed", "operator", True)
    assert made.override_reason == "車椅子の方、付き添い同伴"
    stored = db_session.get(Slot, slot.id)
    db_session.refresh(stored)
    assert (stored.booked_count, stored.overridden_count) == (2, 1)
    counts = _counts(db_session, slot.id)
    assert (counts.capacity, counts.booked, counts.overridden, counts.remaining) == (2, 3, 1, 0)
    assert counts.reconciled and booking.reconcile(db_session) == []
    # Ordinary booking is still refused: the exception made no place for anyone else.
    with pytest.raises(booking.SlotFull):
        booking.book(db_session, slot_id=slot.id, resident_id=factories.resident(db_session).id,
                     channel="operator")


def test_a_slot_with_a_place_left_is_booked_as_usual(db_session, full_slot):
    _, later = full_slot
    made = booking.book_beyond_capacity(
        db_session, slot_id=later.id, resident_id=factories.resident(db_session).id,
        operator_id=None, reason="念のため")
    assert (made.overridden, made.override_reason) == (False, None)
    assert _counts(db_session, later.id).overridden == 0


def test_without_a_reason_nothing_is_booked(db_session, full_slot):
    slot, _ = full_slot
    resident = factories.resident(db_session)
    with pytest.raises(booking.BookingError):
        booking.book_beyond_capacity(db_session, slot_id=slot.id, resident_id=resident.id,
                                     operator_id=None, reason=" \u3000 ")
    assert booking.active_booking(db_session, resident.id, slot.campaign_id) is None
    assert _counts(db_session, slot.id).booked == 2


def test_the_other_rules_still_hold_for_an_exception(db_session, full_slot):
    slot, later = full_slot
    resident = factories.resident(db_session)
    booking.book(db_session, slot_id=later.id, resident_id=resident.id, channel="ivr")
    with pytest.raises(booking.AlreadyBooked):
        booking.book_beyond_capacity(db_session, slot_id=slot.id, resident_id=resident.id,
                                     operator_id=None, reason="重複")
    assert _counts(db_session, slot.id).overridden == 0


def test_cancelling_an_exception_gives_back_the_exception_not_a_place(db_session, full_slot):
    slot, _ = full_slot
    made = booking.book_beyond_capacity(
        db_session, slot_id=slot.id, resident_id=factories.resident(db_session).id,
        operator_id=None, reason="特例")
    booking.cancel(db_session, made.reference)
    stored = db_session.get(Slot, slot.id)
    db_session.refresh(stored)
    assert (stored.booked_count, stored.overridden_count) == (2, 0)
    counts = _counts(db_session, slot.id)
    assert (counts.booked, counts.overridden, counts.remaining) == (2, 1, 0)
    assert counts.reconciled and booking.reconcile(db_session) == []


def test_moving_an_exception_to_a_slot_with_room_makes_it_an_ordinary_booking(
        db_session, full_slot):
    slot, later = full_slot
    made = booking.book_beyond_capacity(
        db_session, slot_id=slot.id, resident_id=factories.resident(db_session).id,
        operator_id=None, reason="特例")
    moved = booking.reschedule(db_session, made.reference, later.id)
    assert (moved.slot_id, moved.overridden) == (later.id, False)
    assert _counts(db_session, slot.id).booked == 2
    assert _counts(db_session, later.id).booked == 1
    assert booking.reconcile(db_session) == []


def test_reconcile_finds_and_repairs_a_drifted_exception_counter(db_session, full_slot):
    slot, _ = full_slot
    booking.book_beyond_capacity(db_session, slot_id=slot.id,
                                 resident_id=factories.resident(db_session).id,
                                 operator_id=None, reason="特例")
    db_session.execute(update(Slot).where(Slot.id == slot.id).values(overridden_count=5))
    db_session.commit()
    assert not _counts(db_session, slot.id).reconciled
    found = booking.reconcile(db_session, repair=True)
    assert [(d.counter, d.stored, d.counted) for d in found] == [("overridden_count", 5, 1)]
    assert booking.reconcile(db_session) == []
    assert db_session.scalar(select(func.count()).select_from(Booking)
                             .where(Booking.overridden.is_(True))) == 1
