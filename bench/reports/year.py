"""A year of the city's records for the reports benchmark, written with COPY on PostgreSQL and
with executemany on SQLite (the quick mode), sealed as the application seals them.

Calls end the ways calls end (self-served, answered after a wait, abandoned, callbacks, hang-ups
in the menu), a tenth of them linked to a resident; one campaign of 18 slots a day with bookings
of every status and stored counters that agree with the rows; inquiries with their timelines.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from madoguchi import sealing
from madoguchi.sealing.blind import last_four

ZONE = ZoneInfo("Asia/Tokyo")
DAYS = 365
OPERATORS = 30
SLOTS_A_DAY = 18
PLACE_TAKING = ("held", "confirmed", "attended", "no_show")
STATUSES = (("confirmed", 0.70), ("attended", 0.12), ("cancelled", 0.10), ("no_show", 0.03),
            ("held", 0.02), ("expired", 0.03))
# How calls end, with their shares of all calls.
CALL_KINDS = (("self_served", 0.40), ("booked", 0.10), ("answered", 0.32), ("abandoned", 0.07),
              ("line_callback", 0.04), ("menu_hang_up", 0.05), ("menu_callback", 0.02))
CATEGORIES = ("ごみ", "道路", "ワクチン", "税金", "子育て", "介護", "住民票", "公園", "騒音",
              "水道")
SUBJECT_WORDS = ("粗大ごみの回収日", "街灯が消えている", "接種券が届かない", "納税証明書",
                 "保育園の申込み", "介護認定", "転入の手続き", "公園の遊具", "夜間の騒音",
                 "水道料金")


class Writer:
    """Rows into tables through one connection: COPY on PostgreSQL, executemany on SQLite."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.postgresql = connection.dialect.name == "postgresql"

    def put(self, table: str, columns: tuple[str, ...], rows) -> int:
        """Write the rows (tuples in the order of columns); returns how many."""
        written = 0
        if self.postgresql:
            raw = self.connection.connection.driver_connection
            with raw.cursor() as cur, cur.copy(
                    f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    written += 1
            return written
        # Table and column names are this module's own constants, never input.
        statement = (f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                     f"VALUES ({', '.join('?' * len(columns))})")
        batch = []
        for row in rows:
            batch.append(tuple(_sqlite_value(value) for value in row))
            if len(batch) == 5000:
                self.connection.exec_driver_sql(statement, batch)
                written, batch = written + len(batch), []
        if batch:
            self.connection.exec_driver_sql(statement, batch)
            written += len(batch)
        return written


def _sqlite_value(value):
    # As UTCDateTime stores them on SQLite: naive UTC text.
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    if isinstance(value, bool):
        return int(value)
    return value


def _sealed(context: str, value: str) -> str:
    return sealing.current().seal(value.encode(), context)


def phone_of(resident: int) -> str:
    """The mobile number loaded for resident number `resident` (1-based)."""
    return f"+8190{resident:08d}"


def resident_no_of(resident: int) -> str:
    """The register number loaded for resident number `resident` (1-based)."""
    return f"R{resident:09d}"


def _residents(count: int, now: datetime):
    keyring = sealing.current()
    born = date(1950, 1, 1).isoformat()
    for k in range(1, count + 1):
        number = resident_no_of(k)
        yield (k, _sealed("residents.resident_no", number), _sealed("residents.name", f"住民{k}"),
               _sealed("residents.name_kana", "ジュウミン"),
               _sealed("residents.birth_date", born), "ja", now, now,
               keyring.digest("resident_no", number), keyring.digest("birth_date", born))


def _phones(count: int):
    keyring = sealing.current()
    for k in range(1, count + 1):
        number = phone_of(k)
        yield (k, k, _sealed("resident_phones.e164", number), keyring.digest("phone", number),
               keyring.digest("last4", last_four(number)), True)


def _call_rows(rng: random.Random, first: date, total: int, residents: int):
    """`total` calls spread evenly over DAYS days from `first`, 08:30-17:15 city time."""
    keyring = sealing.current()
    kinds, weights = zip(*CALL_KINDS, strict=True)
    for n in range(total):
        day = first + timedelta(days=n * DAYS // total)
        started = datetime(day.year, day.month, day.day, 8, 30, tzinfo=ZONE) + timedelta(
            seconds=rng.random() * 8.75 * 3600)
        kind = rng.choices(kinds, weights)[0]
        queued = answered = None
        operator = None
        outcome = kind
        menu = timedelta(seconds=rng.uniform(30, 180))
        if kind in ("self_served", "booked"):
            ended = started + menu
        elif kind == "menu_hang_up":
            ended, outcome = started + menu / 2, "abandoned"
        elif kind == "menu_callback":
            ended, outcome = started + menu, "callback"
        else:
            queued = started + timedelta(seconds=rng.uniform(20, 60))
            wait = timedelta(seconds=rng.expovariate(1 / 70))
            if kind == "answered":
                answered, operator, outcome = queued + wait, rng.randint(1, OPERATORS), "queued"
                ended = answered + timedelta(seconds=rng.expovariate(1 / 280))
            elif kind == "abandoned":
                ended = queued + wait
            else:
                ended, outcome = queued + wait, "callback"
        resident = rng.randint(1, residents) if residents and n % 10 == 0 else None
        number = phone_of(resident) if resident else f"+8180{rng.randrange(10**8):08d}"
        yield (n + 1, f"CA{n:032d}", "inbound", _sealed("calls.from_e164", number),
               keyring.digest("phone", number), resident, started, queued, answered, ended,
               outcome, operator, "completed", 3, int((ended - started).total_seconds()), "[]")


def load(engine, *, calls: int, bookings: int, inquiries: int, first: date) -> dict:
    """Fill a freshly migrated database; returns the counts and the seconds taken."""
    rng = random.Random(20261123)
    started = time.perf_counter()
    now = datetime.now(UTC)
    slots = max(bookings // 10, 1)
    with engine.begin() as connection:
        put = Writer(connection).put
        put("operators", ("id", "username", "display_name", "password_hash", "role", "active",
                          "language", "reach_by", "created_at", "state"),
            ((k, f"op{k}", f"op{k}", "x", "operator", True, "ja", "browser", now, "offline")
             for k in range(1, OPERATORS + 1)))
        put("campaigns", ("id", "code", "name", "name_en", "active", "created_at"),
            [(1, "BENCH", "ベンチ", "Bench", True, now)])
        put("sites", ("id", "code", "name", "name_en", "address"), [(1, "S1", "会場", "Hall", "")])
        put("residents", ("id", "resident_no", "name", "name_kana", "birth_date", "language",
                          "created_at", "updated_at", "resident_no_digest", "birth_digest"),
            _residents(bookings, now))
        put("resident_phones", ("id", "resident_id", "e164", "e164_digest", "last4_digest",
                                "is_mobile"), _phones(bookings))
        put("calls", ("id", "call_sid", "direction", "from_e164", "from_digest", "resident_id",
                      "started_at", "queued_at", "answered_at", "ended_at", "outcome",
                      "operator_id", "status", "status_sequence", "duration_seconds", "path"),
            _call_rows(rng, first, calls, bookings))
        statuses, weights = zip(*STATUSES, strict=True)
        booked = [(rng.choices(statuses, weights)[0], k % 97 == 0) for k in range(bookings)]
        taking = [0] * slots
        beyond = [0] * slots
        for k, (status, overridden) in enumerate(booked):
            if status in PLACE_TAKING:
                taking[k // 10] += 1
                beyond[k // 10] += overridden
        opening = datetime(first.year, first.month, first.day, 9, tzinfo=ZONE)
        # Stored counters agree with the rows: places taken without the exceptions, and those.
        put("slots", ("id", "campaign_id", "site_id", "starts_at", "length_minutes", "capacity",
                      "booked_count", "booked_ivr", "booked_operator", "booked_api",
                      "overridden_count"),
            ((g + 1, 1, 1, opening + timedelta(days=g // SLOTS_A_DAY, minutes=30 * (
                g % SLOTS_A_DAY)), 30, 12, taking[g] - beyond[g], taking[g] - beyond[g], 0, 0,
              beyond[g]) for g in range(slots)))
        put("bookings", ("id", "reference", "slot_id", "campaign_id", "resident_id", "status",
                         "channel", "created_at", "overridden"),
            ((k + 1, f"B{k:010d}", k // 10 + 1, 1, k + 1, status, "ivr", now, overridden)
             for k, (status, overridden) in enumerate(booked)))
        moments = rng.random()  # one seed, so that the timelines match their inquiries
        put("inquiries", ("id", "reference", "resident_id", "category", "subject", "status",
                          "channel", "due_at", "created_at", "updated_at", "closed_at"),
            _inquiry_rows(moments, first, inquiries, bookings))
        put("inquiry_events", ("inquiry_id", "at", "kind", "text", "public", "operator_id"),
            _event_rows(moments, first, inquiries))
    _after_load(engine)
    return {"calls": calls, "bookings": bookings, "slots": slots, "inquiries": inquiries,
            "load_seconds": round(time.perf_counter() - started, 1), "campaign_id": 1}


def _inquiry_moments(seed: float, first: date, total: int):
    rng = random.Random(seed)
    for k in range(total):
        day = first + timedelta(days=k * DAYS // total)
        created = datetime(day.year, day.month, day.day, 9, tzinfo=ZONE) + timedelta(
            minutes=rng.randint(0, 480))
        closed = created + timedelta(hours=rng.expovariate(1 / 30)) if rng.random() < 0.8 \
            else None
        yield k, created, closed


def _inquiry_rows(seed: float, first: date, total: int, residents: int):
    for k, created, closed in _inquiry_moments(seed, first, total):
        topic = k % len(CATEGORIES) if k % 3 else (k // 3) % len(CATEGORIES)
        yield (k + 1, f"I{k:09d}", (k % residents) + 1 if residents else None, CATEGORIES[topic],
               _sealed("inquiries.subject", SUBJECT_WORDS[topic]),
               "done" if closed else "received", "ivr", created + timedelta(days=7), created,
               created, closed)


def _event_rows(seed: float, first: date, total: int):
    """A "created" entry for every inquiry, and a status change by an operator 90 minutes
    later for four in five of them (texts sealed as the application leaves them)."""
    created_text = _sealed("inquiry_events.text", "")
    status_text = _sealed("inquiry_events.text", "in_progress")
    for k, created, _ in _inquiry_moments(seed, first, total):
        yield (k + 1, created, "created", created_text, False, None)
        if k % 5:
            yield (k + 1, created + timedelta(minutes=90), "status", status_text, False,
                   k % OPERATORS + 1)


def _after_load(engine) -> None:
    """Move the id sequences past the loaded ids (PostgreSQL) and refresh the statistics."""
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        return
    with engine.begin() as connection:
        for table in ("operators", "campaigns", "sites", "residents", "resident_phones", "calls",
                      "slots", "bookings", "inquiries", "inquiry_events"):
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT coalesce(max(id), 1) FROM {table}))")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
