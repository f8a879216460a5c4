"""The booking's hot path as Core statements built once: its facts and its write.

A booking needs every fact its rules look at (the slot and its campaign, the resident and their
standing in the campaign, expired holds in the slot, a booking already made under the
idempotency key) and a write that takes a place and inserts the row. On PostgreSQL the common
booking is one statement: the facts are read in a WITH clause, and the guarded UPDATE and the
INSERT run only when the facts leave no rule to weigh (Facts.plain); any other booking, and
every booking on SQLite, reads its facts and then writes, two round trips. The statements are
built once per process with bound parameters, so a booking spends no time constructing SQL, and
PostgreSQL plans each once per connection (psycopg prepares a statement it sees repeatedly).
madoguchi.booking applies the rules to the facts in every case; the guard in the write, the
partial unique index and the CHECK decide every race with another booker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from sqlalchemy import (
    Connection,
    Insert,
    Row,
    Select,
    Update,
    and_,
    bindparam,
    exists,
    insert,
    literal_column,
    or_,
    select,
    true,
    update,
)

from madoguchi.models import ACTIVE_BOOKING_STATUSES, CHANNELS, Booking, Campaign, Resident, Slot

SLOTS = Slot.__table__
BOOKINGS = Booking.__table__
_RESIDENTS = Resident.__table__
_CAMPAIGNS = Campaign.__table__

# What the booking path writes into a new row; the rest are the table's defaults.
ROW_COLUMNS = ("reference", "slot_id", "campaign_id", "resident_id", "status", "channel",
               "operator_id", "idempotency_key", "call_sid", "held_until", "created_at",
               "confirmed_at", "overridden", "override_reason")

# The place a booking takes: one of the slot's places through its channel, or an exception.
EXCEPTION = "exception"


@dataclass(frozen=True)
class Facts:
    """What one read tells about a booking request before anything is written."""

    campaign_id: int
    starts_at: datetime
    campaign_active: bool
    min_age: int | None
    resident_found: bool
    birth_date: date | None
    attended: bool
    active_booking_id: int | None
    expired_holds: bool
    keyed_booking_id: int | None
    places_left: int
    channel_places_left: dict[str, int | None]

    def has_place(self, channel: str) -> bool:
        """Whether the slot had a place for the channel when read (the write's guard decides)."""
        left = self.channel_places_left[channel]
        return self.places_left > 0 and (left is None or left > 0)

    def plain(self, now: datetime) -> bool:
        """Whether no rule has anything to weigh: a known resident, an open campaign with no
        minimum age, a slot not started, no attended or active booking in the campaign, no
        expired hold in the slot, an unused idempotency key. _plain_sql says the same in SQL."""
        return (self.resident_found and self.campaign_active and self.starts_at > now
                and self.min_age is None and not self.attended
                and self.active_booking_id is None and not self.expired_holds
                and self.keyed_booking_id is None)


def _status_in(*statuses: str):
    # Written into the SQL as literals, not parameters: PostgreSQL can then prove the partial
    # unique index's predicate and answer the active-booking question from that index.
    return BOOKINGS.c.status.in_([literal_column(f"'{status}'") for status in statuses])


# The facts' names, in the order Facts reads them; the first eleven, then one per channel.
_FACT_NAMES = ("campaign_id", "starts_at", "campaign_active", "min_age", "resident_id",
               "birth_date", "attended", "active_booking_id", "expired_holds",
               "keyed_booking_id", "places_left", *(f"{channel}_left" for channel in CHANNELS))


@cache
def _facts_query() -> Select:
    bookings, residents = BOOKINGS.c, _RESIDENTS.c
    resident = bindparam("resident_id", type_=bookings.resident_id.type)
    key = bindparam("key", type_=bookings.idempotency_key.type)
    of_resident_here = and_(bookings.resident_id == resident,
                            bookings.campaign_id == SLOTS.c.campaign_id)
    columns = (
        SLOTS.c.campaign_id,
        SLOTS.c.starts_at,
        _CAMPAIGNS.c.active,
        _CAMPAIGNS.c.min_age,
        select(residents.id).where(residents.id == resident).scalar_subquery(),
        # Sealed: fetched, and so opened, only when the campaign has an age to check.
        select(residents.birth_date)
        .where(residents.id == resident, _CAMPAIGNS.c.min_age.is_not(None))
        .scalar_subquery(),
        exists().where(of_resident_here, _status_in("attended")),
        select(bookings.id)
        .where(of_resident_here, _status_in(*ACTIVE_BOOKING_STATUSES))
        .limit(1)
        .scalar_subquery(),
        exists().where(bookings.slot_id == SLOTS.c.id, _status_in("held"),
                       bookings.held_until < bindparam("now", type_=bookings.held_until.type)),
        select(bookings.id)
        .where(bookings.idempotency_key == key)
        .scalar_subquery(),
        SLOTS.c.capacity - SLOTS.c.booked_count,
        *(SLOTS.c[f"quota_{channel}"] - SLOTS.c[f"booked_{channel}"] for channel in CHANNELS),
    )
    return (
        select(*(column.label(name) for column, name in zip(columns, _FACT_NAMES, strict=True)))
        .select_from(SLOTS.join(_CAMPAIGNS, _CAMPAIGNS.c.id == SLOTS.c.campaign_id))
        .where(SLOTS.c.id == bindparam("slot_id", type_=SLOTS.c.id.type))
    )


def _facts_of(row) -> Facts:
    return Facts(campaign_id=row[0], starts_at=row[1], campaign_active=row[2], min_age=row[3],
                 resident_found=row[4] is not None, birth_date=row[5], attended=bool(row[6]),
                 active_booking_id=row[7], expired_holds=bool(row[8]), keyed_booking_id=row[9],
                 places_left=row[10],
                 channel_places_left=dict(zip(CHANNELS, row[11:11 + len(CHANNELS)],
                                              strict=True)))


def read_facts(connection: Connection, slot_id: int, resident_id: int, key: str | None,
               now: datetime) -> Facts | None:
    """Every fact the booking rules need, in one round trip; None when there is no such slot."""
    row = connection.execute(_facts_query(), {"slot_id": slot_id, "resident_id": resident_id,
                                              "key": key, "now": now}).first()
    return None if row is None else _facts_of(row)


@cache
def _taking(place: str) -> Update:
    """The UPDATE that takes a place; it changes no row when there is none to take."""
    slot = bindparam("take_slot_id", type_=SLOTS.c.id.type)
    if place == EXCEPTION:
        # Beyond the places, counted apart: the guarded counters are never touched.
        return (update(SLOTS).where(SLOTS.c.id == slot)
                .values({SLOTS.c.overridden_count: SLOTS.c.overridden_count + 1}))
    if place not in CHANNELS:
        raise ValueError(f"unknown channel {place!r}; expected one of {CHANNELS}")
    quota, booked = SLOTS.c[f"quota_{place}"], SLOTS.c[f"booked_{place}"]
    return (
        update(SLOTS)
        .where(SLOTS.c.id == slot, SLOTS.c.booked_count < SLOTS.c.capacity,
               or_(quota.is_(None), booked < quota))
        .values({SLOTS.c.booked_count: SLOTS.c.booked_count + 1, booked: booked + 1})
    )


@cache
def _taking_insert(place: str) -> Insert:
    """PostgreSQL: take the place and insert the row in one statement.

    The UPDATE runs in a WITH clause and the INSERT selects from what it returned, so the row
    exists exactly when the guard let the counter move; a unique-index violation undoes both.
    """
    taken = _taking(place).returning(SLOTS.c.id, SLOTS.c.campaign_id).cte("taken")
    from_taken = {"slot_id": taken.c.id, "campaign_id": taken.c.campaign_id}
    values = [from_taken[name] if name in from_taken
              else bindparam(f"new_{name}", type_=BOOKINGS.c[name].type)
              for name in ROW_COLUMNS]
    return (insert(BOOKINGS).from_select(list(ROW_COLUMNS), select(*values).select_from(taken))
            .returning(*BOOKINGS.c))


@cache
def _plain_insert() -> Insert:
    values = {name: bindparam(f"new_{name}", type_=BOOKINGS.c[name].type) for name in ROW_COLUMNS}
    return insert(BOOKINGS).values(values).returning(*BOOKINGS.c)


def _plain_sql(facts):
    """Facts.plain in SQL, over the facts' CTE: the one-statement booking writes only then."""
    now = bindparam("now", type_=BOOKINGS.c.held_until.type)
    # The facts are the slot's own; naming the join keeps the UPDATE from reading as a product.
    return and_(facts.c.campaign_id == SLOTS.c.campaign_id,
                facts.c.resident_id.is_not(None), facts.c.campaign_active.is_(True),
                facts.c.starts_at > now, facts.c.min_age.is_(None),
                facts.c.attended.is_(False), facts.c.active_booking_id.is_(None),
                facts.c.expired_holds.is_(False), facts.c.keyed_booking_id.is_(None))


@cache
def _booking_at_once(place: str) -> Select:
    """PostgreSQL: read the facts, take the place and insert the row, in one statement.

    The facts are read in a WITH clause as read_facts reads them; the guarded UPDATE runs only
    when they leave no rule to weigh (Facts.plain), and the INSERT selects from what it returned.
    The statement answers the facts and, when the place was taken, the new row beside them.
    """
    facts = _facts_query().cte("facts")
    taken = (_taking(place).where(_plain_sql(facts))
             .returning(SLOTS.c.id, SLOTS.c.campaign_id).cte("taken"))
    from_taken = {"slot_id": taken.c.id, "campaign_id": taken.c.campaign_id}
    values = [from_taken[name] if name in from_taken
              else bindparam(f"new_{name}", type_=BOOKINGS.c[name].type)
              for name in ROW_COLUMNS]
    made = (insert(BOOKINGS).from_select(list(ROW_COLUMNS), select(*values).select_from(taken))
            .returning(*BOOKINGS.c).cte("made"))
    return select(*facts.c, *made.c).select_from(facts.outerjoin(made, true()))


def book_at_once(connection: Connection, place: str, row: dict, resident_id: int,
                 now: datetime) -> tuple[Facts | None, dict | None]:
    """PostgreSQL: the facts, and the new row when they were plain and a place was free.

    One round trip for the common booking. The caller still applies every rule to the facts
    in the same transaction, and rolls it back should they refuse a row that was made.
    """
    values = {f"new_{name}": row[name] for name in ROW_COLUMNS}
    result = connection.execute(_booking_at_once(place), {
        **values, "slot_id": row["slot_id"], "take_slot_id": row["slot_id"],
        "resident_id": resident_id, "key": row["idempotency_key"], "now": now}).first()
    if result is None:
        return None, None
    made = result[len(_FACT_NAMES):]
    if made[0] is None:
        return _facts_of(result), None
    return _facts_of(result), dict(zip(BOOKINGS.c.keys(), made, strict=True))


def insert_taking_place(connection: Connection, place: str, row: dict) -> Row | None:
    """Take a place (a channel's, or EXCEPTION) and insert the row; None when none was free.

    On PostgreSQL it is one round trip. SQLite has no UPDATE inside WITH: there the guarded
    UPDATE and the INSERT run one after the other in the same transaction, which holds SQLite's
    single write lock from its start.
    """
    values = {f"new_{name}": row[name] for name in ROW_COLUMNS}
    if connection.dialect.name == "postgresql":
        return connection.execute(_taking_insert(place),
                                  {**values, "take_slot_id": row["slot_id"]}).first()
    if connection.execute(_taking(place), {"take_slot_id": row["slot_id"]}).rowcount != 1:
        return None
    return connection.execute(_plain_insert(), values).first()
