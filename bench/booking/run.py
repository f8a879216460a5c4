"""Booking contention benchmark: the real booking code paths under concurrent bookers.

Usage:  python bench/booking/run.py [--trials 100] [--database-url postgresql://...]

1. One hot slot (capacity 10) with 50 and with 200 concurrent bookers on PostgreSQL, repeated
   `--trials` times, channels mixed (phone, operator, API): overbooked must be 0; reports the
   time until every booker had an answer.
2. A spread load: bookers over many slots; bookings per second and p50/p99 latency.
3. The SQLite default with 20 bookers on one slot: zero overbooking, zero "database is locked"
   reaching a booker.

Prints a table and writes bench/booking/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from madoguchi import booking, sealing
from madoguchi.db import make_engine
from madoguchi.migrate import upgrade
from madoguchi.models import Base, Booking, Campaign, Resident, Site, Slot
from madoguchi.sealing import Keyring

HERE = Path(__file__).resolve().parent
CHANNELS = ("ivr", "operator", "api")


def _reset(engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)


def _empty(engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


def _world(factory, slots: int, capacity: int, residents: int) -> tuple[list[int], list[int]]:
    with factory() as session:
        campaign = Campaign(code="BENCH", name="ベンチ", name_en="Bench", active=True)
        site = Site(code="S", name="会場", name_en="Site")
        session.add_all([campaign, site])
        session.flush()
        start = datetime.now(UTC) + timedelta(days=1)
        slot_rows = [
            Slot(campaign_id=campaign.id, site_id=site.id, capacity=capacity,
                 starts_at=start + timedelta(minutes=30 * i), length_minutes=30)
            for i in range(slots)
        ]
        people = [
            Resident(resident_no=f"B{i:07d}", name=f"住民{i}", name_kana="ジュウミン",
                     birth_date=date(1950, 1, 1))
            for i in range(residents)
        ]
        session.add_all(slot_rows + people)
        session.commit()
        return [s.id for s in slot_rows], [p.id for p in people]


def _race(factory, calls) -> tuple[dict[str, int], list[float], float]:
    """Run every call in its own thread at once; outcomes, latencies, wall time to resolve all."""
    barrier = threading.Barrier(len(calls))
    outcomes: dict[str, int] = {}
    latencies: list[float] = []
    lock = threading.Lock()

    def run(call) -> None:
        session = factory()
        barrier.wait()
        started = time.perf_counter()
        try:
            call(session)
            result = "booked"
        except booking.BookingError as exc:
            result = exc.code
        except Exception as exc:  # every unexpected error is counted, not hidden
            result = f"error:{type(exc).__name__}:{str(exc)[:80]}"
        finally:
            session.close()
        elapsed = time.perf_counter() - started
        with lock:
            outcomes[result] = outcomes.get(result, 0) + 1
            latencies.append(elapsed)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    wall = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes, latencies, time.perf_counter() - wall


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def hot_slot(engine, bookers: int, trials: int, capacity: int = 10) -> dict:
    """One slot, many bookers, repeated; counts overbooking and time to resolve."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    overbooked = 0
    errors = 0
    resolve: list[float] = []
    for _ in range(trials):
        _empty(engine)
        (slot_id,), people = _world(factory, 1, capacity, bookers)
        calls = [
            (lambda s, r=r, i=i, slot_id=slot_id: booking.book(
                s, slot_id=slot_id, resident_id=r, channel=CHANNELS[i % 3]))
            for i, r in enumerate(people)
        ]
        outcomes, _, wall = _race(factory, calls)
        resolve.append(wall)
        errors += sum(n for k, n in outcomes.items() if k.startswith("error"))
        with factory() as session:
            rows = session.scalar(select(func.count()).select_from(Booking)
                                  .where(Booking.slot_id == slot_id))
        overbooked += max(rows - capacity, 0)
        if outcomes.get("booked", 0) != capacity:
            errors += 1
    return {
        "backend": engine.dialect.name, "bookers": bookers, "trials": trials,
        "capacity": capacity, "overbooked": overbooked, "unexpected": errors,
        "resolve_all_p50_ms": round(statistics.median(resolve) * 1000, 1),
        "resolve_all_max_ms": round(max(resolve) * 1000, 1),
    }


def spread(engine, bookers: int, slots: int) -> dict:
    """Bookers spread over many slots: throughput and latency."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    _empty(engine)
    slot_ids, people = _world(factory, slots, 10, bookers)
    calls = [
        (lambda s, r=r, i=i: booking.book(s, slot_id=slot_ids[i % len(slot_ids)], resident_id=r,
                                          channel=CHANNELS[i % 3]))
        for i, r in enumerate(people)
    ]
    outcomes, latencies, wall = _race(factory, calls)
    with factory() as session:
        discrepancies = booking.reconcile(session)
    return {
        "backend": engine.dialect.name, "bookers": bookers, "slots": slots,
        "booked": outcomes.get("booked", 0),
        "unexpected": sum(n for k, n in outcomes.items() if k.startswith("error")),
        "bookings_per_second": round(outcomes.get("booked", 0) / wall, 1),
        "p50_ms": round(_percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "reconciled": not discrepancies,
    }


def main() -> None:
    """Run the benchmark, print the table and write results.json."""
    # Residents are sealed as the application seals them, with keys of this run.
    sealing.install(Keyring.fresh())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1/madoguchi_bench"
    )
    args = parser.parse_args()

    pg = make_engine(args.database_url, pool_size=60, max_overflow=0, pool_timeout=60)
    _reset(pg)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(),
               "platform": platform.platform()}
    when = datetime.now(UTC).isoformat(timespec="seconds")
    results = {"machine": machine, "when": when, "hot_slot": [], "spread": []}
    for bookers in (50, 200):
        row = hot_slot(pg, bookers, args.trials)
        results["hot_slot"].append(row)
        print(row, flush=True)
    row = spread(pg, 2000, 200)
    results["spread"].append(row)
    print(row, flush=True)
    pg.dispose()

    with tempfile.TemporaryDirectory() as tmp:
        lite = make_engine(f"sqlite:///{tmp}/bench.db")
        _reset(lite)
        row = hot_slot(lite, 20, args.trials)
        results["hot_slot"].append(row)
        print(row, flush=True)
        row = spread(lite, 200, 20)
        results["spread"].append(row)
        print(row, flush=True)
        lite.dispose()
    (HERE / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"written {HERE / 'results.json'}")


if __name__ == "__main__":
    main()
