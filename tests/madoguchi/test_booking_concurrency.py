"""Many bookers at once, from every channel: never more bookings than places.

Each booker is a thread with its own session and connection, released together by a barrier,
against a database where every commit is real (the committed_db fixture).
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import func, select

from madoguchi import booking
from madoguchi.models import Booking, Slot
from tests import factories

CHANNELS = ("ivr", "operator", "api")


def _race(factory, bookers: int, make_call) -> Counter:
    barrier = threading.Barrier(bookers)
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def run(index: int) -> None:
        session = factory()
        try:
            barrier.wait()
            make_call(session, index)
            result = "booked"
        except booking.BookingError as exc:
            result = exc.code
        except Exception as exc:
            result = f"unexpected {type(exc).__name__}: {exc}"
        finally:
            session.close()
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(bookers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


def _one_slot_world(factory, bookers: int, capacity: int):
    with factory() as session:
        campaign = factories.campaign(session)
        site = factories.site(session)
        slot = factories.slot(session, campaign_id=campaign.id, site_id=site.id, capacity=capacity)
        people = factories.residents(session, bookers)
        session.commit()
        return slot.id, [p.id for p in people]


def _assert_exact(factory, slot_id: int, capacity: int) -> None:
    with factory() as session:
        rows = session.scalar(
            select(func.count()).select_from(Booking).where(
                Booking.slot_id == slot_id, Booking.status.in_(("held", "confirmed"))
            )
        )
        assert rows == capacity
        assert session.get(Slot, slot_id).booked_count == capacity
        assert booking.reconcile(session) == []


def _bookers_for(engine) -> int:
    return 200 if engine.dialect.name == "postgresql" else 20


@pytest.mark.slow
def test_concurrent_bookers_from_all_channels_fill_a_slot_exactly(committed_db, engine):
    bookers = _bookers_for(engine)
    capacity = 10
    slot_id, people = _one_slot_world(committed_db, bookers, capacity)

    def attempt(session, index: int) -> None:
        booking.book(session, slot_id=slot_id, resident_id=people[index],
                     channel=CHANNELS[index % 3])

    outcomes = _race(committed_db, bookers, attempt)
    assert outcomes == Counter({"booked": capacity, "slot_full": bookers - capacity})
    _assert_exact(committed_db, slot_id, capacity)


@pytest.mark.slow
def test_concurrent_holds_then_confirmations_never_exceed_capacity(committed_db, engine):
    bookers = _bookers_for(engine)
    capacity = 10
    slot_id, people = _one_slot_world(committed_db, bookers, capacity)

    def attempt(session, index: int) -> None:
        held = booking.hold(session, slot_id=slot_id, resident_id=people[index], channel="ivr")
        booking.confirm(session, held.reference)

    outcomes = _race(committed_db, bookers, attempt)
    assert outcomes == Counter({"booked": capacity, "slot_full": bookers - capacity})
    _assert_exact(committed_db, slot_id, capacity)


@pytest.mark.slow
def test_one_resident_racing_for_many_slots_gets_exactly_one_booking(committed_db, engine):
    tries = 10
    with committed_db() as session:
        campaign = factories.campaign(session)
        site = factories.site(session)
        slots = [factories.slot(session, campaign_id=campaign.id, site_id=site.id)
                 for _ in range(tries)]
        person = factories.resident(session)
        session.commit()
        slot_ids, person_id, campaign_id = [s.id for s in slots], person.id, campaign.id

    def attempt(session, index: int) -> None:
        booking.book(session, slot_id=slot_ids[index], resident_id=person_id,
                     channel=CHANNELS[index % 3])

    outcomes = _race(committed_db, tries, attempt)
    assert outcomes == Counter({"booked": 1, "already_booked": tries - 1})
    with committed_db() as session:
        assert booking.active_booking(session, person_id, campaign_id) is not None
        assert booking.reconcile(session) == []


@pytest.mark.slow
def test_concurrent_cancellations_and_bookings_keep_counts_exact(committed_db, engine):
    bookers = _bookers_for(engine)
    capacity = 10
    slot_id, people = _one_slot_world(committed_db, bookers, capacity)
    with committed_db() as session:
        first = [booking.book(session, slot_id=slot_id, resident_id=people[i], channel="api")
                 for i in range(capacity)]
        references = [b.reference for b in first]

    def attempt(session, index: int) -> None:
        if index < capacity:
            booking.cancel(session, references[index])
            raise booking.BookingError("cancelled")  # tallied apart from bookings
        booking.book(session, slot_id=slot_id, resident_id=people[index], channel="ivr")

    outcomes = _race(committed_db, bookers, attempt)
    assert outcomes["booking_error"] == capacity
    assert outcomes["booked"] <= capacity
    assert outcomes["booked"] + outcomes["slot_full"] == bookers - capacity
    with committed_db() as session:
        (row,) = booking.slot_counts(session, slot_ids=[slot_id])
        assert row.booked == outcomes["booked"] <= capacity
        assert row.reconciled
        assert booking.reconcile(session) == []
