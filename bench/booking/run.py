"""Booking contention benchmark: the real booking code, driven from several client processes.

Usage:  python bench/booking/run.py [--processes 4] [--connections 8] [--trials 30]
        [--hot-bookers 200] [--spread 8000] [--database-url postgresql://…/madoguchi_bench]
        [--quick]

Bookings are made by `--processes` client processes (fork), each with `--connections` threads,
each thread on a connection of its own, opened before the start, as a web worker's pool would
be. Every phase hands each process its share of the bookers and releases all of them at one
start time; each booking is madoguchi.booking.book in a new session, the path the phone line,
the console and the API take. One Python process would measure its own GIL, not the database.

1. A hot slot: one slot of 10 places, `--hot-bookers` bookers at once (queued on the clients'
   connections), `--trials` times, channels mixed (phone, operator, API): places overbooked,
   counted from the rows (must be 0), unexpected answers, and the time until every booker had
   an answer.
2. A spread load: `--spread` bookers over slots of 10, each slot wanted by exactly as many
   bookers as it has places: bookings per second, p50 / p99 latency of one booking, counters
   reconciled with the rows.
3. The ceiling, measured in the same run with the same processes and connections: each job
   the bare SQL round trips of a write, `SELECT 1` then an INSERT into a scratch table and a
   COMMIT, through the driver with no ORM and no rules. The spread load is reported as a ratio
   to it.

On PostgreSQL the SQLite default is measured too (a file in a temporary folder, one process
with 20 threads, as `madoguchi serve` runs). With a SQLite --database-url only SQLite is run.
The load average is recorded before and after each phase: other work on the machine shows.
Prints a table and writes bench/booking/runs/<time>/results.json (or --output).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from sqlalchemy import func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench._results import percentile, write_record  # noqa: E402
from bench.stack import add_stack_options, check_bench_database, reset_database  # noqa: E402
from madoguchi import booking, sealing  # noqa: E402
from madoguchi.db import make_engine  # noqa: E402
from madoguchi.models import ACTIVE_BOOKING_STATUSES, Booking, Campaign, Resident, Site, Slot  # noqa: E402
from madoguchi.sealing import Keyring  # noqa: E402
from madoguchi.sealing.orm import with_digests  # noqa: E402

CHANNELS = ("ivr", "operator", "api")
CAPACITY = 10
SCRATCH = "bench_ceiling_rows"


# --- the client processes --------------------------------------------------------------------

def _book(factory, job) -> None:
    slot_id, resident_id, channel = job
    with factory() as session:
        booking.book(session, slot_id=slot_id, resident_id=resident_id, channel=channel)


def _bare_round_trips(engine):
    """The ceiling's job on one held driver connection: SELECT 1, an INSERT, COMMIT."""
    raw = engine.raw_connection()
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    # Only constants are formatted in: the table's name and the driver's placeholder.
    insert_row = f"INSERT INTO {SCRATCH} (slot_id, resident_id, channel) VALUES ({mark}, {mark}, {mark})"  # noqa: E501, S608

    def run(job) -> None:
        cursor = raw.cursor()
        if sqlite:  # the application's SQLite transactions take the write lock at BEGIN
            cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("SELECT 1")
        cursor.fetchone()
        cursor.execute(insert_row, job)
        if sqlite:
            cursor.execute("COMMIT")
        else:
            raw.commit()
        cursor.close()

    return raw, run


def _run_jobs(engine, factory, kind: str, jobs: list, start_at: float, threads: int) -> dict:
    """Run the jobs on `threads` threads from start_at; outcomes, latencies, first/last moment."""
    pending = deque(jobs)
    outcomes: Counter = Counter()
    latencies: list[float] = []
    ended: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        raw, bare = _bare_round_trips(engine) if kind == "ceiling" else (None, None)
        mine: list[tuple[str, float]] = []
        time.sleep(max(0.0, start_at - time.time()))
        while True:
            try:
                job = pending.popleft()
            except IndexError:
                break
            started = time.perf_counter()
            try:
                bare(job) if bare else _book(factory, job)
                result = "booked"
            except booking.BookingError as exc:
                result = exc.code
            except Exception as exc:  # every unexpected error is counted and named, not hidden
                result = f"error: {type(exc).__name__}: {str(exc)[:120]}"
            mine.append((result, time.perf_counter() - started))
        if raw is not None:
            raw.close()
        with lock:
            for result, latency in mine:
                outcomes[result] += 1
                latencies.append(latency)
            ended.append(time.time())

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return {"outcomes": dict(outcomes), "latencies": latencies, "ended": max(ended)}


def _serve(url: str, connections: int, inbox, outbox) -> None:
    """A client process: its own engine and connections; runs what the parent hands it."""
    engine = make_engine(url, pool_size=connections, max_overflow=0, pool_timeout=120)
    held = [engine.connect() for _ in range(connections)]  # every connection opened up front
    for connection in held:
        connection.close()
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    outbox.put("ready")
    while (message := inbox.get()) is not None:
        kind, jobs, start_at = message
        outbox.put(_run_jobs(engine, factory, kind, jobs, start_at, connections))
    engine.dispose()


class Clients:
    """`processes` client processes of `connections` connections each, kept for every phase."""

    def __init__(self, url: str, processes: int, connections: int) -> None:
        context = multiprocessing.get_context("fork")  # children inherit this run's keys
        self.outbox = context.Queue()
        self.inboxes = [context.Queue() for _ in range(processes)]
        self.processes = [context.Process(target=_serve, daemon=True,
                                          args=(url, connections, inbox, self.outbox))
                          for inbox in self.inboxes]
        for process in self.processes:
            process.start()
        for _ in self.processes:
            assert self.outbox.get(timeout=120) == "ready"

    def run(self, kind: str, jobs: list) -> dict:
        """Deal the jobs out round robin, release every process at one moment, gather."""
        start_at = time.time() + 0.5
        count = len(self.inboxes)
        for index, inbox in enumerate(self.inboxes):
            inbox.put((kind, jobs[index::count], start_at))
        parts = [self.outbox.get(timeout=600) for _ in self.inboxes]
        outcomes: Counter = Counter()
        latencies: list[float] = []
        for part in parts:
            outcomes.update(part["outcomes"])
            latencies += part["latencies"]
        return {"outcomes": dict(outcomes), "latencies": latencies,
                "wall": max(part["ended"] for part in parts) - start_at}

    def close(self) -> None:
        """Stop the client processes."""
        for inbox in self.inboxes:
            inbox.put(None)
        for process in self.processes:
            process.join(timeout=60)


# --- the worlds and the phases ---------------------------------------------------------------

def _world(engine, tag: str, slots: int, residents: int) -> tuple[list[int], list[int]]:
    """A campaign of its own with `slots` slots of CAPACITY and `residents` sealed residents."""
    with Session(engine, expire_on_commit=False) as session:
        campaign = Campaign(code=f"BENCH-{tag}", name=tag, name_en=tag, active=True)
        site = Site(code=f"S-{tag}", name="会場", name_en="Site")
        session.add_all([campaign, site])
        session.flush()
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        slot_rows = [Slot(campaign_id=campaign.id, site_id=site.id, capacity=CAPACITY,
                          starts_at=start + timedelta(minutes=30 * n), length_minutes=30)
                     for n in range(slots)]
        session.add_all(slot_rows)
        people = [{"resident_no": f"{tag}-{n:07d}", "name": f"住民{n}", "name_kana": "ジュウミン",
                   "birth_date": date(1950, 1, 1), "language": "ja"} for n in range(residents)]
        ids = list(session.scalars(insert(Resident).returning(Resident.id),
                                   with_digests(Resident, people)))
        session.commit()
        return [s.id for s in slot_rows], ids


def _unexpected(outcomes: dict) -> int:
    return sum(n for name, n in outcomes.items() if name.startswith("error"))


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def hot_slot(engine, clients: Clients, bookers: int, trials: int, label: str) -> dict:
    """One slot of CAPACITY, `bookers` at once, `trials` times; overbooking from the rows."""
    overbooked, unexpected, resolve = 0, 0, []
    errors: Counter = Counter()
    load_before = _load()
    for trial in range(trials):
        (slot_id,), people = _world(engine, f"{label}-hot{bookers}-{trial}", 1, bookers)
        jobs = [(slot_id, person, CHANNELS[n % 3]) for n, person in enumerate(people)]
        run = clients.run("book", jobs)
        resolve.append(run["wall"])
        with Session(engine) as session:
            rows = session.scalar(select(func.count()).select_from(Booking).where(
                Booking.slot_id == slot_id, Booking.status.in_(ACTIVE_BOOKING_STATUSES)))
        overbooked += max(rows - CAPACITY, 0)
        unexpected += _unexpected(run["outcomes"])
        errors.update({k: n for k, n in run["outcomes"].items() if k.startswith("error")})
        if run["outcomes"].get("booked", 0) != CAPACITY or \
                run["outcomes"].get("slot_full", 0) != bookers - CAPACITY:
            unexpected += 1
    return {"bookers": bookers, "trials": trials, "capacity": CAPACITY,
            "overbooked": overbooked, "unexpected": unexpected, "errors": dict(errors),
            "resolve_all_p50_ms": round(statistics.median(resolve) * 1000, 1),
            "resolve_all_p99_ms": round(percentile(resolve, 0.99) * 1000, 1),
            "resolve_all_max_ms": round(max(resolve) * 1000, 1),
            "load_before": load_before, "load_after": _load()}


def _rates(run: dict, done: int) -> dict:
    return {"per_second": round(done / run["wall"], 1), "wall_s": round(run["wall"], 3),
            "p50_ms": round(percentile(run["latencies"], 0.5) * 1000, 2),
            "p99_ms": round(percentile(run["latencies"], 0.99) * 1000, 2),
            "max_ms": round(max(run["latencies"]) * 1000, 2)}


def spread(engine, clients: Clients, bookers: int, label: str) -> dict:
    """`bookers` over bookers/CAPACITY slots, then the ceiling with the same jobs."""
    slots, people = _world(engine, f"{label}-spread", bookers // CAPACITY, bookers)
    jobs = [(slots[n % len(slots)], person, CHANNELS[n % 3]) for n, person in enumerate(people)]
    load_before = _load()
    run = clients.run("book", jobs)
    booked = run["outcomes"].get("booked", 0)
    load_between = _load()
    with Session(engine) as session:
        discrepancies = booking.reconcile(session)
        overbooked = sum(max(n - CAPACITY, 0) for n in session.scalars(
            select(func.count()).select_from(Booking)
            .where(Booking.slot_id.in_(slots), Booking.status.in_(ACTIVE_BOOKING_STATUSES))
            .group_by(Booking.slot_id)))
    ceiling = clients.run("ceiling", jobs)
    result = {"bookers": bookers, "slots": len(slots), "booked": booked,
              "outcomes": run["outcomes"], "unexpected": _unexpected(run["outcomes"]),
              "overbooked": overbooked, "reconciled": not discrepancies,
              "bookings": _rates(run, booked),
              "ceiling": {**_rates(ceiling, ceiling["outcomes"].get("booked", 0)),
                          "unexpected": _unexpected(ceiling["outcomes"])},
              "load_before": load_before, "load_between": load_between, "load_after": _load()}
    result["ratio_to_ceiling"] = round(
        result["bookings"]["per_second"] / result["ceiling"]["per_second"], 3)
    return result


def run_backend(url: str, processes: int, connections: int, args: argparse.Namespace) -> dict:
    """Every phase on one database, with its own client processes."""
    engine = make_engine(url)
    reset_database(engine)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {SCRATCH} (id INTEGER PRIMARY KEY"
                          f"{' GENERATED ALWAYS AS IDENTITY' if url.startswith('postgres') else ''}"
                          ", slot_id INTEGER, resident_id INTEGER, channel VARCHAR(10))"))
    clients = Clients(url, processes, connections)
    try:
        label = engine.dialect.name
        result = {"backend": label, "processes": processes, "connections_per_process":
                  connections, "hot_slot": hot_slot(engine, clients, args.hot_bookers,
                                                    args.trials, label)}
        print(label, "hot slot", result["hot_slot"], flush=True)
        result["spread"] = spread(engine, clients, args.spread, label)
        print(label, "spread", result["spread"], flush=True)
        return result
    finally:
        clients.close()
        engine.dispose()


def print_table(backends: list[dict]) -> None:
    """The results as a table."""
    for result in backends:
        hot, load = result["hot_slot"], result["spread"]
        print(f"{result['backend']}: {result['processes']} processes × "
              f"{result['connections_per_process']} connections")
        print(f"  hot slot of {hot['capacity']}, {hot['bookers']} bookers ×{hot['trials']}: "
              f"overbooked {hot['overbooked']}, unexpected {hot['unexpected']}, resolved in "
              f"p50 {hot['resolve_all_p50_ms']} / max {hot['resolve_all_max_ms']} ms")
        print(f"  spread, {load['bookers']} bookers over {load['slots']} slots: "
              f"{load['bookings']['per_second']} bookings/s, p50 {load['bookings']['p50_ms']} / "
              f"p99 {load['bookings']['p99_ms']} ms; overbooked {load['overbooked']}, "
              f"reconciled {load['reconciled']}, unexpected {load['unexpected']}")
        print(f"  ceiling (SELECT 1 + INSERT + COMMIT): {load['ceiling']['per_second']}/s, "
              f"p50 {load['ceiling']['p50_ms']} / p99 {load['ceiling']['p99_ms']} ms; "
              f"ratio {load['ratio_to_ceiling']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; --quick is a smoke run for the tests."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--connections", type=int, default=8, help="per client process")
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--hot-bookers", type=int, default=200)
    parser.add_argument("--spread", type=int, default=8000, help="bookers of the spread load")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    add_stack_options(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.processes, args.connections, args.trials = 2, 3, 2
        args.hot_bookers, args.spread = 20, 100
    if args.database_url.startswith("postgresql://"):
        args.database_url = "postgresql+psycopg://" + args.database_url.removeprefix(
            "postgresql://")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run on each backend, print, write the results."""
    args = parse_args(argv)
    # Residents are sealed as the application seals them, with keys of this run.
    sealing.install(Keyring.fresh())
    machine = {"uptime": Path("/proc/loadavg").read_text().strip()
               if Path("/proc/loadavg").exists() else None}
    backends = []
    if args.database_url.startswith("sqlite"):
        backends.append(run_backend(args.database_url, args.processes, args.connections, args))
    else:
        check_bench_database(args.database_url)
        backends.append(run_backend(args.database_url, args.processes, args.connections, args))
        with tempfile.TemporaryDirectory() as tmp:
            lite = argparse.Namespace(**{**vars(args), "hot_bookers": 20,
                                         "spread": min(args.spread, 2000)})
            backends.append(run_backend(f"sqlite:///{tmp}/bench.db", 1, 20, lite))
    print_table(backends)
    write_record("booking", args, {"loadavg_at_start": machine["uptime"], "backends": backends})
    return 0


if __name__ == "__main__":
    sys.exit(main())
