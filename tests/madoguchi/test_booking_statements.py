"""The booking's one read and one write: every refusal named, the place and the row together.

A booking reads its facts, then takes a place and inserts its row in one write. Between the two
another booker may act; these tests put that other booker's work exactly there (the read is
made to report what it saw a moment earlier) and check that the write alone still keeps every
guarantee: the guarded counter, the partial unique index, the idempotency key.

On PostgreSQL the common booking reads and writes in one statement, so there is no moment
between them to put another booker in; the stale-read tests then see the facts as they are, and
the last tests race a real second transaction against that one statement instead.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from madoguchi import booking, booking_statements
from madoguchi.models import Booking, Slot
from tests import factories


@pytest.fixture
def world(db_session):
    campaign = factories.campaign(db_session)
    site = factories.site(db_session)
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id, capacity=2)
    other = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id,
                           starts_at=slot.starts_at + timedelta(minutes=30), capacity=2)
    db_session.commit()
    return campaign, slot, other


def _read_moments_ago(monkeypatch, **stale) -> None:
    """Make the booking's read report facts from before another booker's write."""
    real = booking.read_facts

    def earlier(*args, **kwargs):
        facts = real(*args, **kwargs)
        return None if facts is None else dataclasses.replace(facts, **stale)

    monkeypatch.setattr(booking, "read_facts", earlier)


def _rows(db_session, **where) -> int:
    query = select(func.count()).select_from(Booking)
    for name, value in where.items():
        query = query.where(getattr(Booking, name) == value)
    return db_session.scalar(query)


def test_the_loser_at_a_full_slot_gets_slot_full_and_no_row_is_written(db_session, world):
    _, slot, _ = world
    a, b, c = factories.residents(db_session, 3)
    booking.book(db_session, slot_id=slot.id, resident_id=a.id, channel="ivr")
    booking.book(db_session, slot_id=slot.id, resident_id=b.id, channel="api")
    with pytest.raises(booking.SlotFull, match="the slot is full"):
        booking.book(db_session, slot_id=slot.id, resident_id=c.id, channel="operator")
    assert _rows(db_session, resident_id=c.id) == 0
    stored = db_session.get(Slot, slot.id)
    assert (stored.booked_count, stored.booked_operator) == (2, 0)


def test_a_slot_filled_after_the_read_is_refused_by_the_guarded_write_with_slot_full(
        db_session, world, monkeypatch):
    _, slot, _ = world
    a, b, c = factories.residents(db_session, 3)
    booking.book(db_session, slot_id=slot.id, resident_id=a.id, channel="ivr")
    booking.book(db_session, slot_id=slot.id, resident_id=b.id, channel="api")
    _read_moments_ago(monkeypatch, places_left=1,
                      channel_places_left={"ivr": None, "operator": None, "api": None})
    with pytest.raises(booking.SlotFull, match="the slot is full") as refused:
        booking.book(db_session, slot_id=slot.id, resident_id=c.id, channel="operator")
    assert refused.value.code == "slot_full"
    assert _rows(db_session, resident_id=c.id) == 0
    assert db_session.get(Slot, slot.id).booked_count == 2
    # A supervisor's exception in the same window is still counted apart, never as a place.
    made = booking.book_beyond_capacity(db_session, slot_id=slot.id, resident_id=c.id,
                                        operator_id=None, reason="付き添い")
    assert made.overridden
    stored = db_session.get(Slot, slot.id)
    assert (stored.booked_count, stored.overridden_count) == (2, 1)


def test_a_full_channel_quota_refuses_that_channel_and_leaves_every_counter_alone(
        db_session, world):
    campaign, _, _ = world
    site = factories.site(db_session)
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id, capacity=3,
                          quota_ivr=1)
    a, b, c = factories.residents(db_session, 3)
    booking.book(db_session, slot_id=slot.id, resident_id=a.id, channel="ivr")
    with pytest.raises(booking.SlotFull):
        booking.book(db_session, slot_id=slot.id, resident_id=b.id, channel="ivr")
    booking.book(db_session, slot_id=slot.id, resident_id=c.id, channel="api")
    stored = db_session.get(Slot, slot.id)
    assert (stored.booked_count, stored.booked_ivr, stored.booked_api) == (2, 1, 1)


def test_a_booking_made_elsewhere_after_the_read_is_refused_by_the_index_and_frees_the_place(
        db_session, world, monkeypatch):
    _, slot, other = world
    resident = factories.resident(db_session)
    first = booking.book(db_session, slot_id=other.id, resident_id=resident.id, channel="ivr")
    _read_moments_ago(monkeypatch, active_booking_id=None)
    with pytest.raises(booking.AlreadyBooked) as refused:
        booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="api")
    assert refused.value.code == "already_booked"
    assert refused.value.message == "the resident already has a booking in this campaign"
    assert refused.value.existing.reference == first.reference
    # The write's counter update was undone with its refused row.
    assert db_session.get(Slot, slot.id).booked_count == 0
    assert booking.reconcile(db_session) == []


def test_the_same_idempotency_key_used_after_the_read_books_once(
        db_session, world, monkeypatch):
    _, slot, _ = world
    resident = factories.resident(db_session)
    first = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="api",
                         idempotency_key="web-race")
    _read_moments_ago(monkeypatch, keyed_booking_id=None, active_booking_id=None)
    again = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="api",
                         idempotency_key="web-race")
    assert again.id == first.id and again.reference == first.reference
    assert _rows(db_session, idempotency_key="web-race") == 1
    assert db_session.get(Slot, slot.id).booked_count == 1


def test_an_unknown_slot_or_resident_is_not_found(db_session, world):
    _, slot, _ = world
    resident = factories.resident(db_session)
    with pytest.raises(booking.BookingNotFound, match="no such slot"):
        booking.book(db_session, slot_id=slot.id + 1000, resident_id=resident.id, channel="api")
    with pytest.raises(booking.BookingNotFound, match="no such resident"):
        booking.book(db_session, slot_id=slot.id, resident_id=resident.id + 1000, channel="api")


def test_an_idempotency_key_repeated_for_a_slot_that_is_gone_answers_the_first_booking(
        db_session, world):
    _, slot, _ = world
    resident = factories.resident(db_session)
    first = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="api",
                         idempotency_key="k-1")
    again = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="api",
                         idempotency_key="k-1")
    assert again.reference == first.reference


def test_a_campaign_with_a_minimum_age_refuses_a_younger_resident_and_books_an_older_one(
        db_session):
    campaign = factories.campaign(db_session, min_age=65)
    site = factories.site(db_session)
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id)
    today = datetime.now(UTC).date()
    young = factories.resident(db_session, birth_date=date(today.year - 30, 1, 1))
    old = factories.resident(db_session, birth_date=date(today.year - 70, 1, 1))
    db_session.commit()
    with pytest.raises(booking.NotEligible) as refused:
        booking.book(db_session, slot_id=slot.id, resident_id=young.id, channel="ivr")
    assert refused.value.code == "not_eligible" and refused.value.details["reason"] == "age"
    assert refused.value.message == "the resident is below the campaign's minimum age"
    made = booking.book(db_session, slot_id=slot.id, resident_id=old.id, channel="ivr")
    assert made.status == "confirmed"


def test_an_attended_resident_and_a_started_slot_are_not_eligible(db_session, world):
    _, slot, other = world
    resident = factories.resident(db_session)
    made = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="ivr")
    db_session.execute(text("UPDATE bookings SET status = 'attended' WHERE id = :id"),
                       {"id": made.id})
    db_session.commit()
    with pytest.raises(booking.NotEligible, match="already attended") as refused:
        booking.book(db_session, slot_id=other.id, resident_id=resident.id, channel="ivr")
    assert refused.value.details["reason"] == "attended"
    later = factories.resident(db_session)
    with pytest.raises(booking.NotEligible, match="already started"):
        booking.book(db_session, slot_id=slot.id, resident_id=later.id, channel="ivr",
                     now=slot.starts_at + timedelta(minutes=1))


def test_the_returned_booking_is_the_stored_row_and_its_slot_shows_the_new_count(
        db_session, world):
    _, slot, _ = world
    loaded = db_session.get(Slot, slot.id)
    assert loaded.booked_count == 0
    resident = factories.resident(db_session)
    made = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="api",
                        call_sid="CA-test")
    stored = db_session.scalar(select(Booking).where(Booking.reference == made.reference))
    assert stored is made
    assert (made.slot_id, made.campaign_id, made.channel, made.call_sid) == (
        slot.id, slot.campaign_id, "api", "CA-test")
    assert made.slot.booked_count == 1 and loaded.booked_api == 1


def test_an_exceptions_reason_is_sealed_in_the_row_and_open_in_the_booking(db_session, world):
    _, slot, _ = world
    for resident in factories.residents(db_session, 2):
        booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="ivr")
    resident = factories.resident(db_session)
    made = booking.book_beyond_capacity(db_session, slot_id=slot.id, resident_id=resident.id,
                                        operator_id=None, reason="付き添いの方と一緒に")
    assert made.overridden and made.override_reason == "付き添いの方と一緒に"
    stored = db_session.execute(text("SELECT override_reason FROM bookings WHERE id = :id"),
                                {"id": made.id}).scalar_one()
    assert "付き添い" not in stored
    assert db_session.get(Slot, slot.id).overridden_count == 1


@pytest.mark.slow
def test_many_deliveries_of_one_idempotency_key_at_once_book_one_place(committed_db, engine):
    deliveries = 20
    with committed_db() as session:
        campaign = factories.campaign(session)
        site = factories.site(session)
        slot = factories.slot(session, campaign_id=campaign.id, site_id=site.id, capacity=5)
        person = factories.resident(session)
        session.commit()
        slot_id, person_id = slot.id, person.id
    barrier = threading.Barrier(deliveries)
    references: Counter = Counter()
    lock = threading.Lock()

    def deliver() -> None:
        with committed_db() as session:
            barrier.wait()
            try:
                result = booking.book(session, slot_id=slot_id, resident_id=person_id,
                                      channel="api", idempotency_key="web-once").reference
            except booking.BookingError as exc:
                result = exc.code
        with lock:
            references[result] += 1

    threads = [threading.Thread(target=deliver) for _ in range(deliveries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with committed_db() as session:
        (made,) = session.scalars(select(Booking).where(Booking.resident_id == person_id))
        assert references == Counter({made.reference: deliveries})
        assert session.get(Slot, slot_id).booked_count == 1
        assert booking.reconcile(session) == []


def test_an_unknown_channel_is_refused_before_anything_is_read_or_written(db_session, world):
    _, slot, _ = world
    resident = factories.resident(db_session)
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="fax")
    assert _rows(db_session, resident_id=resident.id) == 0


def _booked_beside(committed_db, finish) -> tuple[threading.Thread, dict]:
    """Book in a thread of its own while another transaction is still open; its answer."""
    answer: dict = {}

    def run() -> None:
        with committed_db() as session:
            try:
                answer["booking"] = finish(session)
            except booking.BookingError as exc:
                answer["refused"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, answer


def _open_booking(session, **kwargs):
    """A booking written but not committed: its transaction holds what it took."""
    return booking._reserve(session, status="confirmed", held_until=None, operator_id=None,
                            idempotency_key=None, call_sid=None, now=datetime.now(UTC),
                            **kwargs)


@pytest.mark.slow
def test_on_postgresql_the_one_statement_waits_for_the_last_place_and_its_guard_refuses(
        committed_db, engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement booking is PostgreSQL's")
    with committed_db() as session:
        campaign = factories.campaign(session)
        site = factories.site(session)
        slot = factories.slot(session, campaign_id=campaign.id, site_id=site.id, capacity=1)
        first, second = factories.residents(session, 2)
        session.commit()
        slot_id, first_id, second_id = slot.id, first.id, second.id
    with committed_db() as holder:
        # The facts the second booker reads still show the place free: the first has not
        # committed. Its write must wait for the slot's row and then find no place.
        _open_booking(holder, slot_id=slot_id, resident_id=first_id, channel="ivr")
        thread, answer = _booked_beside(committed_db, lambda session: booking.book(
            session, slot_id=slot_id, resident_id=second_id, channel="api"))
        thread.join(timeout=0.5)
        assert thread.is_alive() and not answer
        holder.commit()
    thread.join(timeout=30)
    assert answer["refused"].code == "slot_full"
    with committed_db() as session:
        assert _rows(session, resident_id=second_id) == 0
        assert session.get(Slot, slot_id).booked_count == 1
        assert booking.reconcile(session) == []


@pytest.mark.slow
def test_on_postgresql_a_booking_committed_during_the_one_statement_is_found_by_the_index(
        committed_db, engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement booking is PostgreSQL's")
    with committed_db() as session:
        campaign = factories.campaign(session)
        site = factories.site(session)
        here = factories.slot(session, campaign_id=campaign.id, site_id=site.id, capacity=2)
        there = factories.slot(session, campaign_id=campaign.id, site_id=site.id, capacity=2,
                               starts_at=here.starts_at + timedelta(hours=1))
        person = factories.resident(session)
        session.commit()
        here_id, there_id, person_id = here.id, there.id, person.id
    with committed_db() as holder:
        # Another slot, so nothing but the one-active-booking index stands between the two.
        first = _open_booking(holder, slot_id=there_id, resident_id=person_id, channel="ivr")
        reference = first.reference
        thread, answer = _booked_beside(committed_db, lambda session: booking.book(
            session, slot_id=here_id, resident_id=person_id, channel="api"))
        thread.join(timeout=0.5)
        assert thread.is_alive() and not answer
        holder.commit()
    thread.join(timeout=30)
    refused = answer["refused"]
    assert refused.code == "already_booked"
    assert refused.message == "the resident already has a booking in this campaign"
    assert refused.existing.reference == reference
    with committed_db() as session:
        assert session.get(Slot, here_id).booked_count == 0
        assert booking.reconcile(session) == []


def _one_statement_case(db_session, case: str):
    """A world for one case: (slot id, resident id, idempotency key, the booking's now)."""
    campaign = factories.campaign(db_session, min_age=65 if case == "minimum age" else None,
                                  active=case != "campaign closed")
    site = factories.site(db_session)
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id, capacity=3)
    other = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id, capacity=3,
                           starts_at=slot.starts_at + timedelta(hours=1))
    today = datetime.now(UTC).date()
    person = factories.resident(db_session, birth_date=date(today.year - 70, 1, 1))
    db_session.commit()
    now, key = datetime.now(UTC), None
    if case in ("active booking elsewhere", "attended"):
        made = booking.book(db_session, slot_id=other.id, resident_id=person.id, channel="ivr")
        if case == "attended":
            db_session.execute(text("UPDATE bookings SET status = 'attended' WHERE id = :id"),
                               {"id": made.id})
    elif case == "expired hold in the slot":
        booking.hold(db_session, slot_id=slot.id, resident_id=factories.resident(db_session).id,
                     channel="api", hold_minutes=1, now=now - timedelta(minutes=5))
    elif case == "idempotency key used":
        key = "used-key"
        booking.book(db_session, slot_id=other.id, resident_id=factories.resident(db_session).id,
                     channel="api", idempotency_key=key)
    elif case == "slot started":
        now = slot.starts_at + timedelta(minutes=1)
    db_session.commit()
    resident_id = person.id + 1000 if case == "unknown resident" else person.id
    return slot.id, resident_id, key, now


@pytest.mark.parametrize("case", ["plain", "minimum age", "campaign closed", "slot started",
                                  "unknown resident", "active booking elsewhere", "attended",
                                  "expired hold in the slot", "idempotency key used"])
def test_on_postgresql_the_one_statement_writes_only_when_the_facts_leave_nothing_to_weigh(
        db_session, engine, case):
    if engine.dialect.name != "postgresql":
        pytest.skip("the one-statement booking is PostgreSQL's")
    slot_id, resident_id, key, now = _one_statement_case(db_session, case)
    before = db_session.scalar(select(Slot.booked_count).where(Slot.id == slot_id))
    row = {"reference": "B0000001", "slot_id": slot_id, "campaign_id": None,
           "resident_id": resident_id, "status": "confirmed", "channel": "api",
           "operator_id": None, "idempotency_key": key, "call_sid": None, "held_until": None,
           "created_at": now, "confirmed_at": now, "overridden": False, "override_reason": None}
    facts, made = booking_statements.book_at_once(db_session.connection(), "api", row,
                                                  resident_id, now)
    # The SQL's "nothing to weigh" and Facts.plain must be the same judgement.
    assert facts.plain(now) is (case == "plain")
    assert (made is not None) is (case == "plain")
    after = db_session.scalar(select(Slot.booked_count).where(Slot.id == slot_id))
    assert after == before + (1 if case == "plain" else 0)
    db_session.rollback()
