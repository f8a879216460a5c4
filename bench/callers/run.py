"""Caller load benchmark: N simultaneous callers on the production setup, as Twilio calls it.

Usage:  python bench/callers/run.py [--callers 100,1000,5000] [--duration 60] [--quick]

Starts a fresh PostgreSQL schema with the demo city, gunicorn serving Madoguchi, one
`madoguchi worker` and, for comparison, gunicorn serving a minimal Flask app that returns a fixed
<Say> (the stack's ceiling). For each N, N callers (asyncio, one process) phone in at once and
keep calling for --duration seconds after a --ramp: signed webhooks with Twilio's parameters,
prompts heard for as long as they take to say, keys pressed at a person's speed, journeys mixed
as on a launch day (book, check, FAQ, hold in line then ask for a callback or give up). The same
load then goes to the ceiling app. A short run with no think time measures each app's
throughput at saturation. Every error is printed with its cause; bookings are checked against
slot capacity from the rows. Prints a table and writes bench/callers/runs/<time>/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import aiohttp  # noqa: E402
from redis import Redis  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bench._results import percentile, write_record  # noqa: E402
from bench.callers.journeys import JOURNEYS, Person, pick_journey  # noqa: E402
from bench.callers.phone import TWILIO_TIMEOUT_SECONDS, AsyncPhone, Tally  # noqa: E402
from bench.stack import (  # noqa: E402
    Stack,
    add_stack_options,
    check_bench_database,
    clean_redis,
    free_port,
    reset_database,
)

P99_TARGET_MS = 250.0


def latency_summary(seconds: list[float]) -> dict:
    """p50/p95/p99/max in milliseconds, and the count."""
    return {"count": len(seconds),
            **{name: round(percentile(seconds, q) * 1000, 1)
               for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))},
            "max_ms": round(max(seconds, default=0.0) * 1000, 1)}


# --- the city ---------------------------------------------------------------------------------


def seed_city(stack: Stack, residents: int) -> dict:
    """Fresh schema, the demo city, operators busy on calls (so callers hold); who may call."""
    from call_queue import operator_states
    from call_queue.operators import OperatorBoard
    from madoguchi.db import make_engine
    from madoguchi.demo_data import load_demo_data
    from madoguchi.models import Booking, Operator, Resident, utcnow

    settings = stack.settings()
    engine = make_engine(settings.secrets.database_url)
    reset_database(engine)
    clean_redis(stack.redis_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    redis = Redis.from_url(stack.redis_url)
    with factory() as session:
        load_demo_data(session, settings, residents=residents)
        session.commit()
        board = OperatorBoard(redis)
        for operator_id in session.scalars(select(Operator.id).where(Operator.role == "operator")):
            operator_states.set_state(session, board, operator_id, "on_call", utcnow())
        booked = dict(session.execute(
            select(Booking.resident_id, Booking.reference).where(Booking.status == "confirmed")
        ).all())
        people = session.execute(select(Resident.id, Resident.resident_no, Resident.birth_date))
        free, with_booking = [], []
        for resident_id, resident_no, birth in people:
            person = Person(resident_no, birth.strftime("%Y%m%d"), booked.get(resident_id, ""))
            (with_booking if person.reference else free).append(person)
    engine.dispose()
    redis.close()
    return {"free": free, "with_booking": with_booking}


def booking_check(stack: Stack, since: datetime) -> dict:
    """Bookings the phone line made since `since`, and overbooking counted from the rows."""
    from madoguchi import booking
    from madoguchi.db import make_engine
    from madoguchi.models import Booking, Slot

    engine = make_engine(stack.settings().secrets.database_url)
    with sessionmaker(bind=engine)() as session:
        taking = Booking.status.in_(booking.PLACE_TAKING_STATUSES)
        per_slot = session.execute(
            select(Slot.id, Slot.capacity, func.count(Booking.id))
            .outerjoin(Booking, (Booking.slot_id == Slot.id) & taking)
            .group_by(Slot.id, Slot.capacity)
        ).all()
        made = session.scalar(select(func.count(Booking.id)).where(
            Booking.channel == "ivr", Booking.status == "confirmed", Booking.created_at >= since))
        discrepancies = booking.reconcile(session)
    engine.dispose()
    return {
        "bookings_made_by_phone": made,
        "slots": len(per_slot),
        "places": sum(capacity for _, capacity, _ in per_slot),
        "places_taken": sum(taken for _, _, taken in per_slot),
        "overbooked_places": sum(max(taken - capacity, 0) for _, capacity, taken in per_slot),
        "counter_discrepancies": len(discrepancies),
    }


# --- the load ---------------------------------------------------------------------------------


class People:
    """Who calls next: residents without a booking book, those with one check it."""

    def __init__(self, pools: dict, rng: random.Random) -> None:
        self.free = list(pools["free"])
        self.with_booking = list(pools["with_booking"]) or self.free
        rng.shuffle(self.free)
        self.rng = rng
        self.next_free = 0

    def for_journey(self, name: str) -> Person:
        """A resident fitting the journey (fresh residents for bookings while they last)."""
        if name == "check":
            return self.rng.choice(self.with_booking)
        person = self.free[self.next_free % len(self.free)]
        self.next_free += 1
        return person


async def drive(base_url: str, auth_token: str, callers: int, *, duration: float, ramp: float,
                think_scale: float, people: People, rng: random.Random,
                max_requests: int) -> dict:
    """N callers calling again and again; measured over the `duration` after the ramp."""
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=TWILIO_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        phone = AsyncPhone(http, base_url, auth_token, tally, think_scale=think_scale)
        start = time.monotonic()
        window_start = start + ramp
        phone.deadline = window_start + duration

        async def caller(index: int) -> None:
            await asyncio.sleep(rng.uniform(0, ramp))
            number = f"+8190{rng.randrange(10**8):08d}"
            while time.monotonic() < phone.deadline and len(tally.samples) < max_requests:
                name = pick_journey(rng)
                journey = JOURNEYS[name](people.for_journey(name), rng, number)
                await phone.call(journey, number)
                await phone.think(rng.uniform(1.0, 3.0))

        tasks = [asyncio.create_task(caller(i)) for i in range(callers)]
        # How late the loop wakes up: when it lags, the generator (not the app) limits the point.
        lags: list[float] = []
        while time.monotonic() < phone.deadline and len(tally.samples) < max_requests:
            asleep = time.monotonic()
            await asyncio.sleep(0.2)
            if asleep >= window_start:
                lags.append(time.monotonic() - asleep - 0.2)
        phone.deadline = min(phone.deadline, time.monotonic())
        # Requests already sent may finish (or time out); nothing new starts.
        grace = time.monotonic() + TWILIO_TIMEOUT_SECONDS + 1
        while phone.in_flight and time.monotonic() < grace:
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        measured_until = phone.deadline
    in_window = [s for s in tally.samples if window_start <= s.at]
    seconds = max(measured_until - window_start, 1e-9) if ramp else measured_until - start
    if not ramp:
        in_window = tally.samples
    endpoints: dict[str, list[float]] = {}
    for sample in in_window:
        endpoints.setdefault(sample.endpoint, []).append(sample.seconds)
    return {
        "callers": callers, "measured_seconds": round(seconds, 1),
        "requests": len(in_window), "requests_all": len(tally.samples),
        "requests_per_second": round(len(in_window) / seconds, 1),
        "latency": latency_summary([s.seconds for s in in_window]),
        "endpoints": {name: latency_summary(values) for name, values in sorted(endpoints.items())},
        "errors": sum(tally.errors.values()),
        "error_causes": [{"cause": cause, "count": count, "example": tally.error_examples[cause]}
                         for cause, count in tally.errors.most_common()],
        "call_outcomes": dict(tally.outcomes.most_common()),
        "stuck_examples": tally.stuck_examples,
        "generator_lag_p99_ms": round(percentile(lags, 0.99) * 1000, 1),
    }


# --- the run ----------------------------------------------------------------------------------


def _print_point(label: str, point: dict) -> None:
    lat = point["latency"]
    print(f"  {label:<11} N={point['callers']:>5}  {point['requests_per_second']:>7.1f} req/s  "
          f"p50 {lat['p50_ms']:>7.1f}  p95 {lat['p95_ms']:>7.1f}  p99 {lat['p99_ms']:>7.1f}  "
          f"max {lat['max_ms']:>8.1f} ms  errors {point['errors']}  "
          f"(generator lag p99 {point['generator_lag_p99_ms']} ms)", flush=True)
    for cause in point["error_causes"]:
        print(f"      ERROR x{cause['count']}: {cause['cause']} — {cause['example'][:160]}")
    for journey, words in point["stuck_examples"].items():
        print(f"      STUCK {journey}: …{words[-120:]}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", default="100,1000,5000",
                        help="comma-separated numbers of simultaneous callers")
    parser.add_argument("--duration", type=float, default=60, help="measured seconds per N")
    parser.add_argument("--ramp", type=float, default=20,
                        help="seconds over which callers start (not measured)")
    parser.add_argument("--think-scale", type=float, default=1.0,
                        help="1 = real time for prompts and key presses")
    parser.add_argument("--saturation-callers", type=int, default=32,
                        help="callers with no think time for the throughput-at-saturation run")
    parser.add_argument("--saturation-seconds", type=float, default=15)
    parser.add_argument("--max-requests", type=int, default=300_000,
                        help="stop a point after this many requests")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--residents", type=int, default=20_000)
    parser.add_argument("--search", default="",
                        help="LOW,HIGH: after the --callers points, bisect N between LOW and "
                             "HIGH for the largest N that holds (p99 < 250 ms, no errors)")
    parser.add_argument("--search-step", type=int, default=250,
                        help="stop bisecting when the bracket is this narrow")
    add_stack_options(parser)
    parser.add_argument("--quick", action="store_true",
                        help="smallest run: 10 callers, 5 s, fast talkers (checks the bench)")
    args = parser.parse_args(argv)
    if args.quick:
        args.callers, args.duration, args.ramp, args.think_scale = "10", 4, 1, 0.05
        args.saturation_callers, args.saturation_seconds = 4, 1.5
        args.residents, args.workers, args.threads = 300, 1, 4
    args.caller_counts = [int(n) for n in str(args.callers).split(",") if n.strip()]
    return args


def largest_carried(points: list[dict]) -> int | None:
    """The largest measured N with p99 under the target and no errors."""
    carried = [p["callers"] for p in points
               if p["latency"]["p99_ms"] < P99_TARGET_MS and p["errors"] == 0]
    return max(carried) if carried else None


def holds(point: dict) -> bool:
    """True when a point meets the goal: p99 under the target and no error at all."""
    return point["latency"]["p99_ms"] < P99_TARGET_MS and point["errors"] == 0


def search_largest(args: argparse.Namespace, url: str, stack: Stack, people, rng) -> dict:
    """Bisect N in [LOW, HIGH] for the largest number of callers that holds (one run each)."""
    low, high = (int(n) for n in args.search.split(","))
    tried: list[dict] = []

    def attempt(callers: int) -> bool:
        point = asyncio.run(drive(
            url, stack.auth_token, callers, duration=args.duration, ramp=args.ramp,
            think_scale=args.think_scale, people=people, rng=rng,
            max_requests=args.max_requests))
        _print_point(f"search {callers}", point)
        tried.append({"callers": callers, "holds": holds(point),
                      "p99_ms": point["latency"]["p99_ms"], "errors": point["errors"],
                      "requests_per_second": point["requests_per_second"]})
        return holds(point)

    if attempt(high):
        return {"largest_holding": high, "bracket": [high, high], "tried": tried}
    if not attempt(low):
        return {"largest_holding": None, "bracket": [0, low], "tried": tried}
    while high - low > args.search_step:
        middle = (low + high) // 2
        if attempt(middle):
            low = middle
        else:
            high = middle
    return {"largest_holding": low, "bracket": [low, high], "tried": tried}


def run(args: argparse.Namespace) -> dict:
    """Set up the stack, drive every N at both apps, check bookings, tear everything down."""
    check_bench_database(args.database_url)
    stack = Stack(args.database_url, args.redis_url)
    rng = random.Random(8)
    print(f"seeding the demo city ({args.residents} residents)…", flush=True)
    pools = seed_city(stack, args.residents)
    people = People(pools, rng)
    app_port, ceiling_port = free_port(), free_port()
    results: dict = {"points": [], "ceiling_points": []}
    try:
        stack.worker()
        stack.gunicorn("madoguchi:create_app()", app_port, workers=args.workers,
                       threads=args.threads, name="madoguchi")
        stack.gunicorn("bench.callers.ceiling_app:create_app()", ceiling_port,
                       workers=args.workers, threads=args.threads, name="ceiling")
        started = datetime.now(UTC)
        madoguchi_url = f"http://127.0.0.1:{app_port}"
        ceiling_url = f"http://127.0.0.1:{ceiling_port}"
        for callers in args.caller_counts:
            for label, url, key in (("madoguchi", madoguchi_url, "points"),
                                    ("ceiling", ceiling_url, "ceiling_points")):
                point = asyncio.run(drive(
                    url, stack.auth_token, callers, duration=args.duration, ramp=args.ramp,
                    think_scale=args.think_scale, people=people, rng=rng,
                    max_requests=args.max_requests))
                results[key].append(point)
                _print_point(label, point)
        saturation = {}
        for label, url in (("madoguchi", madoguchi_url), ("ceiling", ceiling_url)):
            point = asyncio.run(drive(
                url, stack.auth_token, args.saturation_callers, duration=args.saturation_seconds,
                ramp=0, think_scale=0, people=people, rng=rng, max_requests=args.max_requests))
            saturation[label] = point
            _print_point(f"{label} sat", point)
        results["saturation"] = saturation
        if args.search:
            results["search"] = search_largest(args, madoguchi_url, stack, people, rng)
        results["bookings"] = booking_check(stack, started)
        failed = [name for name in ("worker",) if any(
            p.poll() is not None for p in stack.processes if name in " ".join(p.args))]
        results["worker_exited_early"] = bool(failed)
    finally:
        stack.stop()
    ceiling_rps = saturation["ceiling"]["requests_per_second"]
    results["throughput_ratio_to_ceiling"] = round(
        saturation["madoguchi"]["requests_per_second"] / ceiling_rps, 3) if ceiling_rps else None
    results["largest_n_with_p99_under_250ms"] = largest_carried(results["points"])
    results["largest_n_method"] = "the measured points (no search between them)"
    if "search" in results:
        results["largest_n_with_p99_under_250ms"] = results["search"]["largest_holding"]
        results["largest_n_method"] = (
            f"bisection between {args.search} to within {args.search_step} callers")
    return results


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the summary and write results.json; 1 if any error occurred."""
    args = parse_args(argv)
    results = run(args)
    bookings = results["bookings"]
    print(f"bookings by phone: {bookings['bookings_made_by_phone']}, places taken "
          f"{bookings['places_taken']} of {bookings['places']}, overbooked "
          f"{bookings['overbooked_places']}, counter discrepancies "
          f"{bookings['counter_discrepancies']}")
    print(f"throughput at saturation: Madoguchi / ceiling = "
          f"{results['throughput_ratio_to_ceiling']}")
    print(f"largest N with p99 < {P99_TARGET_MS:.0f} ms and no errors (measured points): "
          f"{results['largest_n_with_p99_under_250ms']}")
    write_record("callers", args, results)
    errors = sum(p["errors"] for p in results["points"] + results["ceiling_points"])
    return 1 if errors or bookings["overbooked_places"] else 0


if __name__ == "__main__":
    sys.exit(main())
