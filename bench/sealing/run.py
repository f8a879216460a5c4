"""Sealing benchmark: console search on a sealed register, and what sealing costs a booking.

Usage:  python bench/sealing/run.py [--residents 100000] [--searches 300] [--bookings 300]
        [--rounds 3] [--database-url postgresql://…/madoguchi_bench] [--quick]

On SQLite (a fresh file in a temporary folder) and on PostgreSQL (the database given, whose
schema is dropped and rebuilt; skipped when --database-url is a SQLite URL, which is then the
only backend):

1. The demo city with --residents residents is loaded through the demo loader, which seals
   every name, kana, birth date, number and phone and writes their blind indexes and name
   search terms: load time and residents per second.
2. The console's resident search (madoguchi.residents.search, what /console/residents runs
   before writing its audit row), one new session per search as one web request, --searches
   times each: by phone number as an operator types it (090-1234-5678), by the first two kana
   of a family name (search-as-you-type), and by resident number. p50 / p99 / max, whether
   the resident looked for was found every time, and p99 against the 50 ms budget. As a floor
   measured in the same run: opening one resident by primary key (one indexed row, four values
   opened).
3. The booking path as the API and the phone line take it (identify by resident number and
   birth date, then madoguchi.booking.book), one booking per request, --bookings per round,
   --rounds rounds alternating with the baseline: the same code with sealing replaced by a
   pass-through that stores values as they are and compares them directly (what the previous
   version did), against the same table. Time per booking, sealed / baseline.

Prints a table and writes bench/sealing/runs/<time>/results.json (or --output).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench._results import percentile, write_record  # noqa: E402
from bench.stack import add_stack_options, check_bench_database, reset_database  # noqa: E402
from madoguchi import booking, phone, residents, sealing  # noqa: E402
from madoguchi.db import make_engine  # noqa: E402
from madoguchi.models import Campaign, Resident, ResidentPhone, Site, Slot  # noqa: E402
from madoguchi.sealing import Keyring  # noqa: E402
from madoguchi.settings import load_settings  # noqa: E402

BUDGET_MS = 50.0
CHANNELS = ("ivr", "operator", "api")


class PassThroughKeyring(Keyring):
    """The baseline: values stored as they are and looked up by themselves, as before sealing."""

    def seal(self, plaintext: bytes, context: str) -> str:
        """The value itself."""
        return plaintext.decode()

    def open(self, token: str, context: str) -> bytes:
        """The value itself."""
        return token.encode()

    def digest(self, kind: str, value: str) -> str:
        """The value itself (with its kind, as the index columns are shared)."""
        return f"{kind}:{value}"[:40]

    def lookup_digests(self, kind: str, value: str) -> list[str]:
        """The one form it is stored in."""
        return [self.digest(kind, value)]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _stats(times: list[float]) -> dict:
    return {"p50_ms": _ms(percentile(times, 0.5)), "p99_ms": _ms(percentile(times, 0.99)),
            "max_ms": _ms(max(times)), "count": len(times)}


# --- loading ----------------------------------------------------------------------------------

def load_city(engine, count: int) -> dict:
    """The demo city with `count` residents, sealed and indexed by the demo loader."""
    from madoguchi.demo_data import load_demo_data
    from madoguchi.serve import open_all_hours

    settings = open_all_hours(load_settings(env={"MADOGUCHI_VAR_DIR": tempfile.mkdtemp(),
                                                 "MADOGUCHI_CONFIG": str(HERE.parents[1] /
                                                                         "config.toml")}))
    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        load_demo_data(session, settings, residents=count)
    seconds = time.perf_counter() - started
    return {"residents": count, "load_seconds": round(seconds, 1),
            "residents_per_second": round(count / seconds, 1)}


def sample(engine, size: int, rng: random.Random) -> list[dict]:
    """Residents with a phone to look for, opened through the application."""
    with Session(engine) as session:
        rows = session.execute(
            select(Resident.id, Resident.resident_no, Resident.name_kana, ResidentPhone.e164)
            .join(ResidentPhone, ResidentPhone.resident_id == Resident.id)).all()
    chosen = rng.sample(rows, min(size, len(rows)))
    return [{"id": r.id, "number": r.resident_no, "kana": r.name_kana, "phone": r.e164}
            for r in chosen]


# --- search -----------------------------------------------------------------------------------

def _typed(kind: str, person: dict) -> str:
    if kind == "phone":
        return phone.national(person["phone"])
    if kind == "name_prefix":
        return person["kana"].split(" ")[0][:2]
    return person["number"]


def time_searches(engine, people: list[dict]) -> dict:
    """Each kind of search once per person, a new session each; p50/p99 and what was found."""
    results = {}
    for kind in ("phone", "name_prefix", "resident_no"):
        times, missed = [], 0
        for n, person in enumerate(people):
            typed = _typed(kind, person)
            with Session(engine) as session:
                started = time.perf_counter()
                found, _ = residents.search(session, typed)
                elapsed = time.perf_counter() - started
            if n >= 3:  # the first searches warm caches and the pool
                times.append(elapsed)
            if kind == "name_prefix":
                ok = bool(found) and all(r.name_kana.startswith(typed) or " " + typed in
                                         r.name_kana for r in found)
            else:
                ok = person["id"] in {r.id for r in found}
            missed += not ok
        results[kind] = {**_stats(times), "missed": missed,
                         "p99_over_budget": round(percentile(times, 0.99) * 1000 / BUDGET_MS, 3)}
    floor = []
    for person in people:
        with Session(engine) as session:
            started = time.perf_counter()
            session.get(Resident, person["id"]).name  # noqa: B018 (opened on purpose)
            floor.append(time.perf_counter() - started)
    results["primary_key_floor"] = _stats(floor)
    return results


# --- the booking path -------------------------------------------------------------------------

def _round_world(engine, tag: str, count: int, rng: random.Random) -> tuple[int, list[int]]:
    """A campaign of its own with places for `count`, and `count` residents under the keys now
    installed (the baseline's are stored in clear); the campaign and the (number, birth) list."""
    from madoguchi.sealing.orm import with_digests

    with Session(engine, expire_on_commit=False) as session:
        campaign = Campaign(code=f"BENCH-{tag}", name=tag, name_en=tag, active=True)
        site = session.scalar(select(Site).limit(1))
        session.add(campaign)
        session.flush()
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
        session.add_all(Slot(campaign_id=campaign.id, site_id=site.id, capacity=10,
                             starts_at=start + timedelta(minutes=30 * n), length_minutes=30)
                        for n in range(count // 10 + 1))
        people = [{"resident_no": f"{tag}{n:06d}", "name": f"予約 {n}", "name_kana": "ヨヤク",
                   "birth_date": datetime(1940 + n % 40, 1 + n % 12, 1 + n % 28).date(),
                   "language": "ja"} for n in range(count)]
        from sqlalchemy import insert

        session.execute(insert(Resident), with_digests(Resident, people))
        session.commit()
        return campaign.id, [(p["resident_no"], p["birth_date"]) for p in people]


def _book_round(engine, campaign_id: int, people: list, slots: list[int]) -> list[float]:
    times = []
    for n, (number, born) in enumerate(people):
        with Session(engine, expire_on_commit=False) as session:
            started = time.perf_counter()
            resident = residents.identify(session, number, born)
            booking.book(session, slot_id=slots[n // 10], resident_id=resident.id,
                         channel=CHANNELS[n % 3])
            times.append(time.perf_counter() - started)
    return times


def time_bookings(engine, keyring: Keyring, count: int, rounds: int, rng: random.Random) -> dict:
    """Sealed and baseline rounds alternating; time per booking of each."""
    baseline = PassThroughKeyring(keyring._keys.data, keyring._keys.index)
    measured: dict[str, list[float]] = {"sealed": [], "baseline": []}
    for round_no in range(rounds):
        for variant, keys in (("sealed", keyring), ("baseline", baseline)):
            sealing.install(keys)
            campaign_id, people = _round_world(engine, f"{variant[0]}{round_no}", count, rng)
            with Session(engine) as session:
                slots = list(session.scalars(select(Slot.id).where(
                    Slot.campaign_id == campaign_id).order_by(Slot.starts_at)))
            measured[variant] += _book_round(engine, campaign_id, people, slots)
    sealing.install(keyring)
    sealed = sum(measured["sealed"]) / len(measured["sealed"])
    plain = sum(measured["baseline"]) / len(measured["baseline"])
    return {"sealed": {**_stats(measured["sealed"]), "mean_ms": _ms(sealed)},
            "baseline": {**_stats(measured["baseline"]), "mean_ms": _ms(plain)},
            "sealed_over_baseline": round(sealed / plain, 3)}


# --- the run ----------------------------------------------------------------------------------

def run_backend(url: str, args: argparse.Namespace) -> dict:
    """Load, search and book on one database."""
    rng = random.Random(20250114)
    engine = make_engine(url, **({} if url.startswith("sqlite") else {"pool_size": 5}))
    keyring = Keyring.fresh()
    sealing.install(keyring)
    try:
        reset_database(engine)
        loaded = load_city(engine, args.residents)
        if engine.dialect.name == "postgresql":
            # As autovacuum would soon after a register import: the planner's statistics.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
        people = sample(engine, args.searches, rng)
        return {"backend": engine.dialect.name, "loaded": loaded,
                "search": time_searches(engine, people),
                "booking": time_bookings(engine, keyring, args.bookings, args.rounds, rng)}
    finally:
        engine.dispose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; --quick is a smoke run for the tests."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--bookings", type=int, default=300, help="bookings per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    add_stack_options(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.residents, args.searches, args.bookings, args.rounds = 1500, 25, 30, 1
    return args


def print_table(backends: list[dict]) -> None:
    """The results as a table."""
    print(f"{'backend':10} {'search':12} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'missed':>6} {'p99/50ms':>9}")
    for result in backends:
        for kind, stats in result["search"].items():
            print(f"{result['backend']:10} {kind:12} {stats['p50_ms']:8.2f} {stats['p99_ms']:8.2f} "
                  f"{stats['max_ms']:8.2f} {stats.get('missed', ''):>6} "
                  f"{stats.get('p99_over_budget', ''):>9}")
    for result in backends:
        book = result["booking"]
        print(f"{result['backend']:10} booking: sealed {book['sealed']['mean_ms']:.2f} ms, "
              f"baseline {book['baseline']['mean_ms']:.2f} ms per booking, "
              f"ratio {book['sealed_over_baseline']:.3f}; loaded "
              f"{result['loaded']['residents']:,} residents in "
              f"{result['loaded']['load_seconds']} s")


def main(argv: list[str] | None = None) -> int:
    """Run on each backend, print, write the results."""
    args = parse_args(argv)
    if args.database_url.startswith("sqlite"):
        urls = [args.database_url]
    else:
        check_bench_database(args.database_url)
        urls = [f"sqlite:///{Path(tempfile.mkdtemp(prefix='madoguchi-sealing-'))}/bench.db",
                args.database_url]
    backends = [run_backend(url, args) for url in urls]
    print_table(backends)
    write_record("sealing", args, {"budget_ms": BUDGET_MS, "backends": backends})
    return 0


if __name__ == "__main__":
    sys.exit(main())
