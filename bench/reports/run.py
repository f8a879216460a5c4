"""Reports benchmark: the capacity ledger, inquiry analytics and CSV exports on a large history.

Usage:  python bench/reports/run.py [--calls 1000000] [--bookings 100000] [--inquiries 50000]
                                    [--repeats 10]
                                    [--database-url postgresql://postgres@127.0.0.1/h_reports]

Drops and rebuilds the schema of the database it is given, loads a year of calls, a campaign
of slots of ten with bookings of every status, and a year of inquiries with timelines (COPY),
then times on a warm cache:

1. the capacity ledger of the whole campaign and of one day (services.capacity_ledger.build);
2. inquiry analytics over 28 days per day and over a year per week (inquiry_analytics.analyse);
3. the calls export of one day and of a month, written through the CSV writer to nowhere:
   rows per second, and in a second pass the peak Python memory (tracemalloc) while streaming.

`--reuse` times the data an earlier run loaded (its counts are read from results.json).

Prints a table and writes bench/reports/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import psycopg  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from agent_console.services import capacity_ledger, exports, inquiry_analytics  # noqa: E402
from bench._loading import (  # noqa: E402
    bench_settings,
    copy_residents,
    insert_campaign_and_site,
    sealed,
    timed,
)
from bench.stack import reset_database  # noqa: E402
from madoguchi import sealing  # noqa: E402
from madoguchi.csv_safety import csv_lines  # noqa: E402
from madoguchi.db import make_engine  # noqa: E402

ZONE = ZoneInfo("Asia/Tokyo")
DAYS = 365
STATUSES = (("confirmed", 0.70), ("attended", 0.12), ("cancelled", 0.10), ("no_show", 0.03),
            ("held", 0.02), ("expired", 0.03))
CATEGORIES = ("ごみ", "道路", "ワクチン", "税金", "子育て", "介護", "住民票", "公園", "騒音",
              "水道")
SUBJECT_WORDS = ("粗大ごみの回収日", "街灯が消えている", "接種券が届かない", "納税証明書",
                 "保育園の申込み", "介護認定", "転入の手続き", "公園の遊具", "夜間の騒音",
                 "水道料金")


def _calls(rng: random.Random, first: date, total: int):
    for n in range(total):
        day = first + timedelta(days=n * DAYS // total)
        start = datetime(day.year, day.month, day.day, 8, 30, tzinfo=ZONE) + timedelta(
            seconds=rng.random() * 8.75 * 3600)
        number = f"+8190{rng.randrange(10**8):08d}"
        yield (f"CA{n:032d}", "inbound", sealed("calls.from_e164", number),
               sealing.current().digest("phone", number), start,
               start + timedelta(seconds=rng.randint(30, 600)), "completed", 3, "self_served",
               "[]")


def load(url: str, calls: int, bookings: int, inquiries: int, first: date) -> dict:
    """Fill the database with COPY; returns the counts and seconds taken."""
    rng = random.Random(20261123)
    started = time.perf_counter()
    now = datetime.now(UTC)
    statuses, weights = zip(*STATUSES, strict=True)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy("COPY calls (call_sid, direction, from_e164, from_digest, started_at, "
                      "ended_at, status, status_sequence, outcome, path) FROM STDIN") as copy:
            for row in _calls(rng, first, calls):
                copy.write_row(row)
        campaign, site = insert_campaign_and_site(cur, now)
        slots = bookings // 10
        # 18 slots a day (09:00-18:00), so the campaign spans slots / 18 days.
        cur.execute(
            "INSERT INTO slots (campaign_id, site_id, starts_at, length_minutes, capacity, "
            "booked_count, booked_ivr, booked_operator, booked_api) SELECT %s, %s, "
            "%s + (g / 18) * interval '1 day' + (g %% 18) * interval '30 minutes', 30, 12, "
            "0, 0, 0, 0 FROM generate_series(0, %s - 1) g",
            (campaign, site, datetime(first.year, first.month, first.day, 9, tzinfo=ZONE),
             slots))
        copy_residents(cur, bookings, now)
        cur.execute("SELECT min(id) FROM slots")
        first_slot = cur.fetchone()[0]
        with cur.copy("COPY bookings (reference, slot_id, campaign_id, resident_id, status, "
                      "channel, created_at, overridden) FROM STDIN") as copy:
            for k in range(bookings):
                copy.write_row((f"B{k:010d}", first_slot + k // 10, campaign, k + 1,
                                rng.choices(statuses, weights)[0], "ivr", now, k % 97 == 0))
        cur.execute(
            "UPDATE slots s SET booked_count = c.n, booked_ivr = c.n FROM (SELECT slot_id, "
            "count(*) n FROM bookings WHERE status IN ('held', 'confirmed', 'attended', "
            "'no_show') GROUP BY slot_id) c WHERE c.slot_id = s.id")
        with cur.copy("COPY inquiries (reference, category, subject, status, channel, due_at, "
                      "created_at, updated_at, closed_at) FROM STDIN") as copy:
            for k in range(inquiries):
                day = first + timedelta(days=k * DAYS // inquiries)
                created = datetime(day.year, day.month, day.day, 9, tzinfo=ZONE) + timedelta(
                    minutes=rng.randint(0, 480))
                topic = rng.randrange(len(CATEGORIES))
                closed = created + timedelta(hours=rng.expovariate(1 / 30)) \
                    if rng.random() < 0.8 else None
                copy.write_row((f"I{k:09d}", CATEGORIES[topic],
                                sealed("inquiries.subject", SUBJECT_WORDS[topic]),
                                "done" if closed else "received", "ivr",
                                created + timedelta(days=7), created, created, closed))
        cur.execute(
            "INSERT INTO operators (username, display_name, password_hash, role, active, "
            "language, reach_by, created_at, state) VALUES ('op1', 'op1', 'x', 'operator', "
            "true, 'ja', 'browser', %s, 'offline') RETURNING id", (now,))
        operator = cur.fetchone()[0]
        # One sealed copy each of the two texts the timeline rows carry (the reports never read
        # them; they are sealed so that the tables look as the application leaves them).
        cur.execute("INSERT INTO inquiry_events (inquiry_id, at, kind, text, public) "
                    "SELECT id, created_at, 'created', %s, false FROM inquiries",
                    (sealed("inquiry_events.text", ""),))
        cur.execute("INSERT INTO inquiry_events (inquiry_id, at, kind, text, public, operator_id) "
                    "SELECT id, created_at + interval '90 minutes', 'status', %s, "
                    "false, %s FROM inquiries WHERE id %% 5 <> 0",
                    (sealed("inquiry_events.text", "in_progress"), operator))
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    return {"calls": calls, "bookings": bookings, "slots": slots, "inquiries": inquiries,
            "load_seconds": round(time.perf_counter() - started, 1), "campaign_id": campaign}


def _write_to_nowhere(session, choice: exports.ExportChoice) -> tuple[int, int]:
    def t(key: str, **values: object) -> str:
        return key

    rows, size = 0, 0
    for line in csv_lines(exports.header(choice, t, ZONE),
                          exports.rows(session, choice, ZONE, reveal_phones=False)):
        rows += 1
        size += len(line.encode("utf-8"))
    return rows - 1, size


def stream_export(session, choice: exports.ExportChoice) -> dict:
    """Write the export through the CSV writer to nowhere: rows per second, then (in a second
    pass, since tracing slows Python down) the peak Python memory while streaming."""
    started = time.perf_counter()
    rows, size = _write_to_nowhere(session, choice)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    _write_to_nowhere(session, choice)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"rows": rows, "megabytes": round(size / 2**20, 1), "seconds": round(seconds, 2),
            "rows_per_second": round(rows / seconds), "peak_python_mib": round(peak / 2**20, 1)}


def main() -> None:
    """Run the benchmark, print the table and write results.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--bookings", type=int, default=100_000)
    parser.add_argument("--inquiries", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--reuse", action="store_true",
                        help="time the data already loaded by an earlier run (no reload)")
    parser.add_argument("--database-url",
                        default=os.environ.get("BENCH_DATABASE_URL",
                                               "postgresql://postgres@127.0.0.1:5432/h_reports"))
    args = parser.parse_args()
    settings = bench_settings(args.database_url)
    engine = make_engine(settings.secrets.database_url)
    first = date(2025, 4, 1)
    if args.reuse:
        loaded = json.loads((HERE / "results.json").read_text())["loaded"]
    else:
        reset_database(engine)
        loaded = load(args.database_url, args.calls, args.bookings, args.inquiries, first)
    print(f"loaded {loaded['calls']:,} calls, {loaded['bookings']:,} bookings in "
          f"{loaded['slots']:,} slots, {loaded['inquiries']:,} inquiries "
          f"in {loaded['load_seconds']} s")
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    campaign = loaded["campaign_id"]
    busy_day = first + timedelta(days=10)
    results = {}
    with factory() as session:
        whole = capacity_ledger.build(session, capacity_ledger.LedgerChoice(campaign), ZONE)
        assert whole.totals.unreconciled == 0
        cases = {
            f"ledger, whole campaign ({loaded['slots']:,} slots)": lambda: capacity_ledger.build(
                session, capacity_ledger.LedgerChoice(campaign), ZONE),
            "ledger, one day (18 slots)": lambda: capacity_ledger.build(
                session, capacity_ledger.LedgerChoice(campaign, busy_day, busy_day), ZONE),
            "inquiry analytics, 28 days per day": lambda: inquiry_analytics.analyse(
                session, inquiry_analytics.ReportChoice(busy_day, busy_day + timedelta(days=27)),
                ZONE),
            "inquiry analytics, a year per week": lambda: inquiry_analytics.analyse(
                session, inquiry_analytics.ReportChoice(first, first + timedelta(days=DAYS - 1),
                                                        "week"), ZONE),
        }
        for name, fn in cases.items():
            results[name] = timed(fn, args.repeats)
            session.rollback()
        exported = {
            "calls export, one day": stream_export(
                session, exports.ExportChoice("calls", busy_day, busy_day)),
            "calls export, a month": stream_export(
                session, exports.ExportChoice("calls", busy_day, busy_day + timedelta(days=29))),
        }
    print(f"{'case':45} {'p50 ms':>9} {'max ms':>9}")
    for name, value in results.items():
        print(f"{name:45} {value['p50_ms']:>9} {value['max_ms']:>9}")
    print(f"{'export':28} {'rows':>8} {'MB':>6} {'s':>7} {'rows/s':>8} {'peak MiB':>9}")
    for name, value in exported.items():
        print(f"{name:28} {value['rows']:>8} {value['megabytes']:>6} {value['seconds']:>7} "
              f"{value['rows_per_second']:>8} {value['peak_python_mib']:>9}")
    (HERE / "results.json").write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "system": platform.platform()},
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "parameters": vars(args) | {"database_url": "(given)"},
        "loaded": loaded, "timings": results, "exports": exported,
    }, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
