"""Slots, holds, bookings, cancellations: the no-overbooking guarantee lives here.

Every function that changes a booking owns its transaction: it commits on success and rolls
back before raising. A place is taken by one conditional UPDATE of the slot's counter
(``booked_count < capacity``) in the same transaction as the booking row, so concurrent bookers
from any channel queue on the slot's row and the loser sees a clear SlotFull. A new booking is
one read of every fact the rules need and one write that takes the place and inserts the row
(madoguchi.booking_statements); on PostgreSQL the common booking does both in one statement,
which writes only when the facts leave no rule to weigh. The database's
CHECK on the counter and its partial unique index (one active booking per resident and
campaign) back this up should any code path ever forget. Published numbers are recomputed
from booking rows (slot_counts), and reconcile() compares them with the counters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from madoguchi.booking_statements import (
    EXCEPTION,
    Facts,
    book_at_once,
    insert_taking_place,
    read_facts,
)
from madoguchi.codes import new_booking_code
from madoguchi.db import retry_on_lock
from madoguchi.models import (
    ACTIVE_BOOKING_STATUSES,
    CHANNELS,
    Booking,
    Campaign,
    Site,
    Slot,
    utcnow,
)

T = TypeVar("T")

# Statuses whose booking occupies a place in its slot (counted in booked_count).
PLACE_TAKING_STATUSES = ("held", "confirmed", "attended", "no_show")


class BookingError(Exception):
    """A booking could not be made or changed; `code` names the reason for every channel."""

    code = "booking_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class SlotFull(BookingError):
    """The slot has no place left (for this channel)."""

    code = "slot_full"


class AlreadyBooked(BookingError):
    """The resident already has an active booking in this campaign."""

    code = "already_booked"

    def __init__(self, message: str, existing: Booking | None, **details: object) -> None:
        super().__init__(message, **details)
        self.existing = existing


class HoldExpired(BookingError):
    """The place was held too long without confirmation and has been released."""

    code = "hold_expired"


class BookingNotFound(BookingError):
    """No such booking, slot or resident."""

    code = "not_found"


class NotEligible(BookingError):
    """The resident or slot may not be booked (campaign closed, slot started, age, attended)."""

    code = "not_eligible"


class ReasonRequired(BookingError):
    """A booking beyond a slot's places was asked for without saying why."""

    code = "reason_required"


class IdempotencyConflict(BookingError):
    """The idempotency key was already used for a different booking request."""

    code = "idempotency_conflict"


def _channel_columns(channel: str):
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {CHANNELS}")
    return getattr(Slot, f"quota_{channel}"), getattr(Slot, f"booked_{channel}")


def _transaction(session: Session, work: Callable[[], T]) -> T:
    """Run work, commit, and roll back on any error; retry transient lock errors."""

    def attempt() -> T:
        try:
            result = work()
            session.commit()
            return result
        except BaseException:
            session.rollback()
            raise

    return retry_on_lock(attempt, session)


def _age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def active_booking(session: Session, resident_id: int, campaign_id: int) -> Booking | None:
    """The resident's held or confirmed booking in the campaign, if any."""
    return session.scalar(
        select(Booking).where(
            Booking.resident_id == resident_id,
            Booking.campaign_id == campaign_id,
            Booking.status.in_(ACTIVE_BOOKING_STATUSES),
        )
    )


def find_booking(session: Session, reference: str) -> Booking | None:
    """The booking with this reference code, if any."""
    return session.scalar(select(Booking).where(Booking.reference == reference))


def bookings_of(session: Session, resident_id: int) -> list[Booking]:
    """All bookings of a resident, newest slot first."""
    return list(
        session.scalars(
            select(Booking)
            .join(Slot, Slot.id == Booking.slot_id)
            .where(Booking.resident_id == resident_id)
            .order_by(Slot.starts_at.desc())
        )
    )


def _release_slot_place(session: Session, booking: Booking) -> None:
    """Give back the place a booking took: one of the slot's places, or one of its exceptions."""
    if booking.overridden:
        values = {Slot.overridden_count: Slot.overridden_count - 1}
    else:
        _, booked_col = _channel_columns(booking.channel)
        values = {Slot.booked_count: Slot.booked_count - 1, booked_col: booked_col - 1}
    session.execute(
        update(Slot)
        .where(Slot.id == booking.slot_id)
        .values(values)
        .execution_options(synchronize_session="fetch")
    )


def _take_slot_place(session: Session, slot_id: int, channel: str) -> bool:
    """The guarded increment: True when a place was taken, False when the slot is full."""
    quota_col, booked_col = _channel_columns(channel)
    result = session.execute(
        update(Slot)
        .where(
            Slot.id == slot_id,
            Slot.booked_count < Slot.capacity,
            or_(quota_col.is_(None), booked_col < quota_col),
        )
        .values({Slot.booked_count: Slot.booked_count + 1, booked_col: booked_col + 1})
        .execution_options(synchronize_session="fetch")
    )
    return result.rowcount == 1


def _expire_holds(session: Session, now: datetime, slot_id: int | None = None) -> int:
    query = select(Booking).where(Booking.status == "held", Booking.held_until < now)
    if slot_id is not None:
        query = query.where(Booking.slot_id == slot_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    expired = list(session.scalars(query))
    for booking in expired:
        booking.status = "expired"
        booking.cancelled_at = now
        booking.cancel_reason = "hold expired"
        _release_slot_place(session, booking)
    session.flush()
    return len(expired)


def release_expired_holds(session: Session, now: datetime | None = None) -> int:
    """Give back the places of holds that were never confirmed; returns how many."""
    now = now or utcnow()
    return _transaction(session, lambda: _expire_holds(session, now))


def _check_eligible(facts: Facts, now: datetime) -> None:
    if not facts.campaign_active:
        raise NotEligible("the campaign is closed", reason="campaign_closed")
    if facts.starts_at <= now:
        raise NotEligible("the slot has already started", reason="slot_started")
    if facts.min_age is not None and (
            facts.birth_date is None or _age_on(facts.birth_date, now.date()) < facts.min_age):
        raise NotEligible("the resident is below the campaign's minimum age", reason="age")
    if facts.attended:
        raise NotEligible("the resident already attended this campaign", reason="attended")


def _existing_for_key(
    session: Session, key: str | None, slot_id: int, resident_id: int
) -> Booking | None:
    if not key:
        return None
    existing = session.scalar(select(Booking).where(Booking.idempotency_key == key))
    if existing is not None and (existing.slot_id, existing.resident_id) != (slot_id, resident_id):
        raise IdempotencyConflict(
            "this idempotency key was used for another slot or resident",
            reference=existing.reference,
        )
    return existing


def _attached(session: Session, values: Mapping) -> Booking:
    """The booking row the INSERT returned, in the session as if it had been loaded."""
    made = Booking(**values)
    make_transient_to_detached(made)
    session.add(made)
    # A Slot already loaded in this session would show its counters from before the booking.
    slot = session.identity_map.get(identity_key(Slot, made.slot_id))
    if slot is not None:
        session.expire(slot, _COUNTERS)
    return made


_COUNTERS = ["booked_count", "booked_ivr", "booked_operator", "booked_api", "overridden_count"]


def _reserve(
    session: Session,
    *,
    slot_id: int,
    resident_id: int,
    channel: str,
    status: str,
    held_until: datetime | None,
    operator_id: int | None,
    idempotency_key: str | None,
    call_sid: str | None,
    now: datetime,
    override_reason: str | None = None,
) -> Booking:
    # One read for every check, then one write that takes the place and inserts the row: the
    # guard in the write, the partial unique index and the CHECK decide every race, so the read
    # only has to tell an honest refusal from a booking worth attempting.
    _channel_columns(channel)  # an unknown channel is a programming error, raised first
    session.flush()
    connection = session.connection()
    row = {
        "reference": new_booking_code(),
        "slot_id": slot_id,
        "campaign_id": None,  # from the slot, in the write
        "resident_id": resident_id,
        "status": status,
        "channel": channel,
        "operator_id": operator_id,
        "idempotency_key": idempotency_key,
        "call_sid": call_sid,
        "held_until": held_until,
        "created_at": now,
        "confirmed_at": now if status == "confirmed" else None,
        "overridden": False,
        "override_reason": None,
    }
    made = None
    if connection.dialect.name == "postgresql":
        # The common booking in one round trip: the facts, and the row when they leave no rule
        # to weigh and the guard found a place. The rules below still judge those facts, and
        # a refusal rolls the row back with the transaction.
        facts, made = book_at_once(connection, channel, row, resident_id, now)
    else:
        facts = read_facts(connection, slot_id, resident_id, idempotency_key, now)
    if facts is None or facts.keyed_booking_id is not None:
        existing = _existing_for_key(session, idempotency_key, slot_id, resident_id)
        if existing is not None:
            return existing
    if facts is None:
        raise BookingNotFound("no such slot", slot_id=slot_id)
    if not facts.resident_found:
        raise BookingNotFound("no such resident", resident_id=resident_id)
    _check_eligible(facts, now)
    if facts.expired_holds:
        _expire_holds(session, now, slot_id=slot_id)
    if facts.active_booking_id is not None:
        current = active_booking(session, resident_id, facts.campaign_id)
        if current is not None:
            raise AlreadyBooked(
                "the resident already has a booking in this campaign",
                current,
                reference=current.reference,
            )
    if made is not None:
        return _attached(session, made)
    row["campaign_id"] = facts.campaign_id
    # A slot already full when read is refused without the write: at a popular slot most
    # bookers are refused, and each then costs one round trip less. When the one-statement
    # booking already tried with plain facts, its guard found the slot full.
    tried = connection.dialect.name == "postgresql" and facts.plain(now)
    full = tried or (not facts.expired_holds and not facts.has_place(channel))
    taken = None if full else insert_taking_place(connection, channel, row)
    if taken is None:
        if override_reason is None:
            raise SlotFull("the slot is full", slot_id=slot_id)
        row.update(overridden=True, override_reason=override_reason)
        taken = insert_taking_place(connection, EXCEPTION, row)
        if taken is None:  # the slot was deleted between the read and the write
            raise BookingNotFound("no such slot", slot_id=slot_id)
    return _attached(session, taken._mapping)


def _reserve_with_conflicts(session: Session, **kwargs) -> Booking:
    """_reserve in a transaction, turning unique-index races into the right typed error."""
    for _ in range(5):
        try:
            return _transaction(session, lambda: _reserve(session, **kwargs))
        except IntegrityError as exc:
            message = str(exc.orig)
            if kwargs["idempotency_key"] and (
                    "idempotency_key" in message or "one_active_per_campaign" in message
                    or ("resident_id" in message and "campaign_id" in message)):
                # Two deliveries of one request raced: the first's booking is the answer,
                # whichever unique index stopped the second.
                existing = _existing_for_key(
                    session, kwargs["idempotency_key"], kwargs["slot_id"], kwargs["resident_id"]
                )
                if existing is not None:
                    return existing
            if "one_active_per_campaign" in message or (
                "resident_id" in message and "campaign_id" in message
            ):
                slot = session.get(Slot, kwargs["slot_id"])
                current = active_booking(session, kwargs["resident_id"], slot.campaign_id)
                raise AlreadyBooked(
                    "the resident already has a booking in this campaign", current
                ) from None
            if "within_capacity" in message or "within_quota" in message:
                raise SlotFull("the slot is full", slot_id=kwargs["slot_id"]) from None
            if "reference" not in message:
                raise
            # A reference code collided with an existing one: draw another.
    raise BookingError("could not draw a unique reference code")


def hold(
    session: Session,
    *,
    slot_id: int,
    resident_id: int,
    channel: str,
    hold_minutes: int = 10,
    operator_id: int | None = None,
    idempotency_key: str | None = None,
    call_sid: str | None = None,
    now: datetime | None = None,
) -> Booking:
    """Keep a place for a resident while they confirm; raises SlotFull, AlreadyBooked, …"""
    now = now or utcnow()
    return _reserve_with_conflicts(
        session,
        slot_id=slot_id,
        resident_id=resident_id,
        channel=channel,
        status="held",
        held_until=now + timedelta(minutes=hold_minutes),
        operator_id=operator_id,
        idempotency_key=idempotency_key,
        call_sid=call_sid,
        now=now,
    )


def book(
    session: Session,
    *,
    slot_id: int,
    resident_id: int,
    channel: str,
    operator_id: int | None = None,
    idempotency_key: str | None = None,
    call_sid: str | None = None,
    now: datetime | None = None,
) -> Booking:
    """Book a place outright (hold and confirm at once); raises SlotFull, AlreadyBooked, …"""
    now = now or utcnow()
    return _reserve_with_conflicts(
        session,
        slot_id=slot_id,
        resident_id=resident_id,
        channel=channel,
        status="confirmed",
        held_until=None,
        operator_id=operator_id,
        idempotency_key=idempotency_key,
        call_sid=call_sid,
        now=now,
    )


def book_beyond_capacity(
    session: Session,
    *,
    slot_id: int,
    resident_id: int,
    operator_id: int | None,
    reason: str,
    now: datetime | None = None,
) -> Booking:
    """A supervisor's booking that may go beyond the slot's places, counted as an exception.

    A slot with a place left is booked as usual; a full one takes the booking as overridden,
    with its reason, so the ledger shows it instead of a silent overbooking. Every other rule
    (eligibility, one booking per campaign) still holds. Raises ReasonRequired without one.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise ReasonRequired("a reason is required to book beyond a slot's places")
    now = now or utcnow()
    return _reserve_with_conflicts(
        session,
        slot_id=slot_id,
        resident_id=resident_id,
        channel="operator",
        status="confirmed",
        held_until=None,
        operator_id=operator_id,
        idempotency_key=None,
        call_sid=None,
        now=now,
        override_reason=reason[:200],
    )


def _locked_booking(session: Session, reference: str) -> Booking:
    query = select(Booking).where(Booking.reference == reference).with_for_update()
    booking = session.scalar(query)
    if booking is None:
        raise BookingNotFound("no booking with this reference", reference=reference)
    return booking


def confirm(session: Session, reference: str, now: datetime | None = None) -> Booking:
    """Turn a hold into a booking; confirming twice is harmless; raises HoldExpired."""
    now = now or utcnow()

    def work() -> Booking:
        booking = _locked_booking(session, reference)
        if booking.status == "confirmed":
            return booking
        if booking.status != "held":
            raise HoldExpired("the place is no longer held", reference=reference)
        if booking.held_until is not None and booking.held_until < now:
            _expire_holds(session, now, slot_id=booking.slot_id)
            raise HoldExpired("the hold expired before confirmation", reference=reference)
        booking.status = "confirmed"
        booking.confirmed_at = now
        booking.held_until = None
        return booking

    try:
        return _transaction(session, work)
    except HoldExpired:
        # The expiry itself must stick even though the confirmation failed.
        release_expired_holds(session, now)
        raise


def cancel(
    session: Session,
    reference: str,
    *,
    operator_id: int | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Booking:
    """Cancel a held or confirmed booking and free its place; cancelling twice is harmless."""
    now = now or utcnow()

    def work() -> Booking:
        booking = _locked_booking(session, reference)
        if booking.status in ("cancelled", "expired"):
            return booking
        if booking.status not in ACTIVE_BOOKING_STATUSES:
            raise NotEligible(
                f"a booking that is {booking.status} cannot be cancelled", reference=reference
            )
        booking.status = "cancelled"
        booking.cancelled_at = now
        booking.cancel_reason = reason
        if operator_id is not None:
            booking.operator_id = operator_id
        _release_slot_place(session, booking)
        return booking

    return _transaction(session, work)


def reschedule(
    session: Session,
    reference: str,
    new_slot_id: int,
    *,
    operator_id: int | None = None,
    now: datetime | None = None,
) -> Booking:
    """Move a booking to another slot of the same campaign, keeping its reference code."""
    now = now or utcnow()

    def work() -> Booking:
        booking = _locked_booking(session, reference)
        if booking.status not in ACTIVE_BOOKING_STATUSES:
            raise NotEligible(f"a booking that is {booking.status} cannot be moved")
        if booking.slot_id == new_slot_id:
            return booking
        new_slot = session.get(Slot, new_slot_id)
        if new_slot is None:
            raise BookingNotFound("no such slot", slot_id=new_slot_id)
        if new_slot.campaign_id != booking.campaign_id:
            raise NotEligible("the new slot belongs to another campaign")
        if new_slot.starts_at <= now:
            raise NotEligible("the slot has already started", reason="slot_started")
        _expire_holds(session, now, slot_id=new_slot_id)
        if not _take_slot_place(session, new_slot_id, booking.channel):
            raise SlotFull("the slot is full", slot_id=new_slot_id)
        _release_slot_place(session, booking)
        # In the new slot it holds an ordinary place: the exception stayed with the old slot.
        booking.overridden = False
        booking.slot_id = new_slot_id
        if operator_id is not None:
            booking.operator_id = operator_id
        return booking

    return _transaction(session, work)


def open_slots(
    session: Session,
    *,
    campaign_id: int | None = None,
    channel: str | None = None,
    after: datetime | None = None,
    site_id: int | None = None,
    limit: int = 3,
    exclude_slot_id: int | None = None,
) -> list[Slot]:
    """The earliest slots that still have a place (for the channel), soonest first."""
    after = after or utcnow()
    query = (
        select(Slot)
        .join(Campaign, Campaign.id == Slot.campaign_id)
        .where(Campaign.active.is_(True), Slot.starts_at > after, Slot.booked_count < Slot.capacity)
        .order_by(Slot.starts_at, Slot.site_id, Slot.id)
        .limit(limit)
    )
    if channel is not None:
        quota_col, booked_col = _channel_columns(channel)
        query = query.where(or_(quota_col.is_(None), booked_col < quota_col))
    if campaign_id is not None:
        query = query.where(Slot.campaign_id == campaign_id)
    if site_id is not None:
        query = query.where(Slot.site_id == site_id)
    if exclude_slot_id is not None:
        # Moving a booking: the slot it already holds is no choice.
        query = query.where(Slot.id != exclude_slot_id)
    return list(session.scalars(query))


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants at which a local calendar day starts and ends."""
    start = datetime(day.year, day.month, day.day, tzinfo=tz)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class SlotCount:
    """A slot's numbers, counted from its booking rows."""

    slot_id: int
    campaign_id: int
    site_id: int
    site_name: str
    starts_at: datetime
    capacity: int
    booked: int
    held: int
    confirmed: int
    cancelled: int
    attended: int
    no_show: int
    overridden: int
    stored_booked: int = field(compare=False)
    active_overridden: int = field(default=0, compare=False)
    stored_overridden: int = field(default=0, compare=False)

    @property
    def remaining(self) -> int:
        """Places left, from the rows."""
        return max(self.capacity - self.booked, 0)

    @property
    def reconciled(self) -> bool:
        """True when the stored counters (places and exceptions) agree with the rows."""
        return (self.stored_booked == self.booked - self.active_overridden
                and self.stored_overridden == self.active_overridden)


def slot_choice(
    *,
    campaign_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    slot_ids: list[int] | None = None,
) -> list[ColumnElement[bool]]:
    """The conditions choosing slots: of a campaign, starting in [start, end), among ids."""
    chosen: list[ColumnElement[bool]] = []
    if campaign_id is not None:
        chosen.append(Slot.campaign_id == campaign_id)
    if start is not None:
        chosen.append(Slot.starts_at >= start)
    if end is not None:
        chosen.append(Slot.starts_at < end)
    if slot_ids is not None:
        chosen.append(Slot.id.in_(slot_ids))
    return chosen


def slot_counts_query(
    *,
    campaign_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    slot_ids: list[int] | None = None,
) -> Select:
    """One statement counting each chosen slot's booking rows by status, in time order; its
    columns are labelled with the names of SlotCount's fields."""
    chosen = slot_choice(campaign_id=campaign_id, start=start, end=end, slot_ids=slot_ids)
    place = Booking.status.in_(PLACE_TAKING_STATUSES)
    overridden = Booking.overridden.is_(True)
    # The chosen slots' bookings are counted per slot first and then joined to the slots:
    # grouping 100,000 bookings alone is cheaper than grouping their join with the slots.
    counted = (
        select(Booking.slot_id.label("slot_id"),
               func.count().filter(place).label("booked"),
               func.count().filter(Booking.status == "held").label("held"),
               func.count().filter(Booking.status == "confirmed").label("confirmed"),
               func.count().filter(Booking.status == "cancelled").label("cancelled"),
               func.count().filter(Booking.status == "attended").label("attended"),
               func.count().filter(Booking.status == "no_show").label("no_show"),
               func.count().filter(overridden).label("overridden"),
               func.count().filter(and_(overridden, place)).label("active_overridden"))
        .group_by(Booking.slot_id)
    )
    if chosen:
        counted = counted.where(Booking.slot_id.in_(select(Slot.id).where(*chosen)))
    counted = counted.subquery("counted")

    def count(name: str):
        return func.coalesce(counted.c[name], 0).label(name)

    return (
        select(
            Slot.id.label("slot_id"),
            Slot.campaign_id.label("campaign_id"),
            Slot.site_id.label("site_id"),
            Site.name.label("site_name"),
            Slot.starts_at.label("starts_at"),
            Slot.capacity.label("capacity"),
            Slot.booked_count.label("stored_booked"),
            count("booked"), count("held"), count("confirmed"), count("cancelled"),
            count("attended"), count("no_show"), count("overridden"), count("active_overridden"),
            Slot.overridden_count.label("stored_overridden"),
        )
        .join(Site, Site.id == Slot.site_id)
        .outerjoin(counted, counted.c.slot_id == Slot.id)
        .where(*chosen)
        .order_by(Slot.starts_at, Slot.site_id)
    )


def slot_counts(
    session: Session,
    *,
    campaign_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    slot_ids: list[int] | None = None,
) -> list[SlotCount]:
    """Per-slot numbers computed from booking rows (the public capacity ledger)."""
    query = slot_counts_query(campaign_id=campaign_id, start=start, end=end, slot_ids=slot_ids)
    return [
        SlotCount(
            slot_id=row[0],
            campaign_id=row[1],
            site_id=row[2],
            site_name=row[3],
            starts_at=row[4],
            capacity=row[5],
            stored_booked=row[6],
            booked=int(row[7]),
            held=int(row[8]),
            confirmed=int(row[9]),
            cancelled=int(row[10]),
            attended=int(row[11]),
            no_show=int(row[12]),
            overridden=int(row[13]),
            active_overridden=int(row[14]),
            stored_overridden=row[15],
        )
        for row in session.execute(query)
    ]


@dataclass(frozen=True)
class Discrepancy:
    """A stored counter that disagrees with the booking rows."""

    slot_id: int
    counter: str
    stored: int
    counted: int


def reconcile(session: Session, *, repair: bool = False) -> list[Discrepancy]:
    """Compare every slot's stored counters with its rows; optionally set them from the rows."""
    place = Booking.status.in_(PLACE_TAKING_STATUSES)
    ordinary = and_(place, Booking.overridden.is_(False))

    def counted(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    columns = ([("booked_count", ordinary)]
               + [(f"booked_{ch}", and_(ordinary, Booking.channel == ch)) for ch in CHANNELS]
               + [("overridden_count", and_(place, Booking.overridden.is_(True)))])
    query = (
        select(Slot.id, *[getattr(Slot, name) for name, _ in columns],
               *[counted(condition) for _, condition in columns])
        .outerjoin(Booking, Booking.slot_id == Slot.id)
        .group_by(Slot.id)
        .order_by(Slot.id)
    )
    found: list[Discrepancy] = []
    for row in session.execute(query):
        width = len(columns)
        for index, (name, _) in enumerate(columns):
            stored, real = int(row[1 + index]), int(row[1 + width + index])
            if stored != real:
                found.append(Discrepancy(slot_id=row[0], counter=name, stored=stored, counted=real))
    session.rollback()
    if repair and found:

        def fix() -> None:
            for item in found:
                session.execute(
                    update(Slot)
                    .where(Slot.id == item.slot_id)
                    .values({getattr(Slot, item.counter): item.counted})
                    .execution_options(synchronize_session="fetch")
                )

        _transaction(session, fix)
    return found
