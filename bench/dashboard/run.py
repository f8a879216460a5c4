"""Dashboard benchmark: the supervisors' live snapshot and a day's report on a large history.

Usage:  python bench/dashboard/run.py [--calls 1000000] [--bookings 100000] [--repeats 20]
                                      [--database-url postgresql://postgres@127.0.0.1/h_super]
                                      [--reuse]   (time again on the data already loaded)

Drops and rebuilds the schema of the database it is given, loads a year of working days of
calls (self-served, answered, abandoned, callbacks, hang-ups in the menu; a few callers holding
at the moment measured) and a campaign's bookings with COPY, then times, on a warm cache:

1. the live snapshot (call_queue.line_metrics.snapshot.take: holders, callbacks, the last hour's
   SQL aggregates and the staffing advice), at 14:00 on the busiest last day;
2. a day's report (call_queue.line_metrics.history.load: every bucket of the four charts) and a
   week's report.

Prints a table and writes bench/dashboard/runs/<time>/results.json (or --output).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import psycopg  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bench._loading import (  # noqa: E402
    bench_settings,
    copy_residents,
    insert_campaign_and_site,
    timed,
)
from bench._results import output_file  # noqa: E402
from bench.stack import reset_database  # noqa: E402
from call_queue.line_metrics import history, snapshot  # noqa: E402
from madoguchi.db import make_engine  # noqa: E402

ZONE = ZoneInfo("Asia/Tokyo")
DAY_SECONDS = int((17.25 - 8.5) * 3600)  # 08:30-17:15
OPERATORS = 30
HOLDING_AT_MEASURE = 12
# How calls end, with their shares of all calls.
KINDS = (("self_served", 0.40), ("booked", 0.10), ("answered", 0.32), ("abandoned", 0.07),
         ("line_callback", 0.04), ("menu_hang_up", 0.05), ("menu_callback", 0.02))


def working_days(last: date, count: int) -> list[date]:
    """The `count` weekdays up to and including `last`, oldest first."""
    days, day = [], last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def _call_rows(rng: random.Random, days: list[date], total: int, measure_at: datetime):
    kinds, weights = zip(*KINDS, strict=True)
    per_day = total // len(days)
    n = 0
    for day in days:
        opening = datetime.combine(day, datetime.min.time(), ZONE) + timedelta(hours=8.5)
        for _ in range(per_day if day != days[-1] else total - per_day * (len(days) - 1)):
            started = (opening + timedelta(seconds=rng.random() * DAY_SECONDS)).astimezone(UTC)
            kind = rng.choices(kinds, weights)[0]
            queued = answered = ended = operator = None
            outcome = kind
            menu = timedelta(seconds=rng.uniform(30, 180))
            if kind in ("self_served", "booked"):
                answered, ended = started, started + menu
            elif kind == "menu_hang_up":
                answered, ended, outcome = started, started + menu / 2, "abandoned"
            elif kind == "menu_callback":
                answered, ended, outcome = started, started + menu, "callback"
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
            if ended is not None and ended > measure_at and started <= measure_at:
                continue  # the measured moment's holders are added apart, with a known count
            n += 1
            yield (f"CA{n:032d}", "inbound", started, queued, answered, ended, outcome, operator,
                   "completed", 3, "[]")
    for k in range(HOLDING_AT_MEASURE):
        started = measure_at - timedelta(seconds=30 + 25 * k)
        n += 1
        yield (f"CA{n:032d}", "inbound", started, started + timedelta(seconds=20), None, None,
               "queued", None, "in-progress", 1, "[]")


def load(url: str, calls: int, bookings: int, measure_day: date, measure_at: datetime) -> dict:
    """Fill the database with COPY; returns the counts and seconds taken."""
    rng = random.Random(20261123)
    started = time.perf_counter()
    days = working_days(measure_day, 250)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        now = datetime.now(UTC)
        cur.execute(
            "INSERT INTO operators (username, display_name, password_hash, role, active, "
            "language, reach_by, created_at, state) SELECT 'op' || g, 'op' || g, 'x', "
            "'operator', true, 'ja', 'browser', %s, 'offline' FROM generate_series(1, %s) g",
            (now, OPERATORS))
        with cur.copy("COPY calls (call_sid, direction, started_at, queued_at, answered_at, "
                      "ended_at, outcome, operator_id, status, status_sequence, path) "
                      "FROM STDIN") as copy:
            for row in _call_rows(rng, days, calls, measure_at):
                copy.write_row(row)
        campaign, site = insert_campaign_and_site(cur, now)
        slots = bookings // 10
        cur.execute(
            "INSERT INTO slots (campaign_id, site_id, starts_at, length_minutes, capacity, "
            "booked_count, booked_ivr, booked_operator, booked_api) SELECT %s, %s, "
            "%s + (g * interval '30 minutes'), 30, 10, 10, 10, 0, 0 "
            "FROM generate_series(0, %s - 1) g", (campaign, site, now, slots))
        copy_residents(cur, bookings, now)
        cur.execute(
            "INSERT INTO bookings (reference, slot_id, campaign_id, resident_id, status, "
            "channel, created_at, overridden) SELECT 'B' || lpad(r.id::text, 10, '0'), "
            "(SELECT min(id) FROM slots) + (r.id - 1) / 10, %s, r.id, 'confirmed', 'ivr', %s, "
            "false FROM residents r", (campaign, now))
        cur.execute("SELECT count(*) FROM calls")
        call_count = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM bookings")
        booking_count = cur.fetchone()[0]
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    return {"calls": call_count, "bookings": booking_count,
            "load_seconds": round(time.perf_counter() - started, 1)}


def main() -> None:
    """Run the benchmark, print the table and write results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--bookings", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--reuse", action="store_true",
                        help="time the data a previous run loaded instead of loading again")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL",
                                               "postgresql://postgres@127.0.0.1:5432/h_super"))
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default: a new runs/<time>/results.json)")
    args = parser.parse_args()
    settings = bench_settings(args.database_url)
    engine = make_engine(settings.secrets.database_url)
    measure_day = working_days(datetime.now(ZONE).date() - timedelta(days=1), 1)[0]
    measure_at = datetime.combine(measure_day, datetime.min.time(), ZONE) + timedelta(hours=14)
    if args.reuse:
        loaded = json.loads((args.output or HERE / "results.json").read_text())["loaded"]
    else:
        reset_database(engine)
        loaded = load(args.database_url, args.calls, args.bookings, measure_day, measure_at)
    print(f"loaded {loaded['calls']:,} calls and {loaded['bookings']:,} bookings "
          f"in {loaded['load_seconds']} s")
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    counts = {"available": 4, "on_call": 10, "wrap_up": 2, "away": 1}
    week_start = working_days(measure_day, 5)[0]
    seconds = settings.supervisor.service_level_seconds
    rows = []
    with factory() as session:
        reading = snapshot.take(session, settings=settings, operator_counts=counts,
                                now=measure_at.astimezone(UTC))
        day = history.load(session, measure_day, measure_day, settings.tz, seconds)
        cases = [
            ("live snapshot", lambda: snapshot.take(
                session, settings=settings, operator_counts=counts,
                now=measure_at.astimezone(UTC))),
            ("day report (96 + 24 buckets)", lambda: history.load(
                session, measure_day, measure_day, settings.tz, seconds)),
            ("week report (5 working days)", lambda: history.load(
                session, week_start, measure_day, settings.tz, seconds)),
        ]
        for name, fn in cases:
            result = timed(fn, args.repeats)
            rows.append({"case": name, **result})
            session.rollback()
    print(f"\nlive at {measure_at:%Y-%m-%d %H:%M %Z}: holding {reading.holding.count}, "
          f"last hour {reading.last_hour.calls} calls, service level "
          f"{(reading.last_hour.service_level or 0) * 100:.0f}%, needed "
          f"{reading.staffing.needed} (on duty {reading.staffing.on_duty}); day "
          f"{measure_day}: {day.totals.calls} calls")
    print(f"\n{'case':32} {'p50 ms':>8} {'max ms':>8}")
    for row in rows:
        print(f"{row['case']:32} {row['p50_ms']:8.1f} {row['max_ms']:8.1f}")
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": {"calls": args.calls, "bookings": args.bookings, "repeats": args.repeats,
                       "measured_at": measure_at.isoformat()},
        "loaded": loaded,
        "live_reading": {"holding": reading.holding.count, "last_hour_calls":
                         reading.last_hour.calls, "needed": reading.staffing.needed},
        "day_calls": day.totals.calls,
        "timings": rows,
    }
    output = output_file("dashboard", args.output)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"written {output}")


if __name__ == "__main__":
    main()
