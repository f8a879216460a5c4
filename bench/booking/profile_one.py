"""One booking at a time: round trips, client CPU and wall time per booking, and where CPU goes.

Usage:  python bench/booking/profile_one.py [--bookings 400] [--database-url postgresql://…]
        py-spy record --format raw -o booking.txt -- python bench/booking/profile_one.py
        python bench/booking/profile_one.py --summarize booking.txt

Each booking is what one request does: a new session, madoguchi.booking.book on a slot with
places, the session closed. Bookings run one after another, so the numbers are a single booker's
cost without contention. Round trips are counted with SQLAlchemy's events: every statement,
every COMMIT and ROLLBACK, and on PostgreSQL the BEGIN the driver sends before a transaction's
first statement. (The pool checks a connection only after a second unused, which a connection
booking after booking never is: madoguchi.db.IDLE_CHECK_SECONDS.)
--summarize reads py-spy's raw samples and splits them by the package each sample was in
(self time) and by the booking step it was under (inclusive time).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from sqlalchemy import event, insert  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench.stack import check_bench_database, reset_database  # noqa: E402
from madoguchi import booking, sealing  # noqa: E402
from madoguchi.db import make_engine  # noqa: E402
from madoguchi.models import Campaign, Resident, Site, Slot  # noqa: E402
from madoguchi.sealing import Keyring  # noqa: E402
from madoguchi.sealing.orm import with_digests  # noqa: E402

DEFAULT_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/madoguchi_bench"

# Where a sample's own time is spent, by the file of its innermost frame (first match wins).
PACKAGES = (
    ("waiting for the database (round trips)", ("Connection.wait (psycopg/",)),
    ("sealing (cryptography, keys)", ("cryptography/", "madoguchi/sealing/")),
    ("SQLAlchemy ORM", ("sqlalchemy/orm/",)),
    ("SQLAlchemy Core (SQL, engine, pool)", ("sqlalchemy/",)),
    ("driver (psycopg / sqlite3)", ("psycopg/", "psycopg_binary/", "sqlite3/")),
    ("reference code (stdnum, secrets)", ("stdnum/", "secrets.py", "random.py")),
    ("madoguchi", ("madoguchi/",)),
)

# The ORM session's own steps, shown beside the booking code's.
SESSION_STEPS = {"Session.commit", "Session.flush", "Session.get", "Session.connection"}


class RoundTrips:
    """Counts what the client sends: statements, transaction ends, PostgreSQL's BEGIN."""

    def __init__(self, engine) -> None:
        self.count = 0
        postgres = engine.dialect.name == "postgresql"

        @event.listens_for(engine, "before_cursor_execute")
        def _statement(*_args) -> None:
            self.count += 1

        @event.listens_for(engine, "commit")
        def _commit(_conn) -> None:
            self.count += 1

        @event.listens_for(engine, "rollback")
        def _rollback(_conn) -> None:
            self.count += 1

        if postgres:
            # psycopg sends BEGIN by itself before the first statement; SQLite's BEGIN IMMEDIATE
            # is a statement of its own and already counted above.
            @event.listens_for(engine, "begin")
            def _begin(_conn) -> None:
                self.count += 1


def _world(engine, count: int) -> tuple[list[int], list[int]]:
    with Session(engine, expire_on_commit=False) as session:
        campaign = Campaign(code="PROFILE", name="計測", name_en="Profile", active=True)
        site = Site(code="P", name="会場", name_en="Site")
        session.add_all([campaign, site])
        session.flush()
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        slots = [Slot(campaign_id=campaign.id, site_id=site.id, capacity=10,
                      starts_at=start + timedelta(minutes=30 * n), length_minutes=30)
                 for n in range(count // 10 + 1)]
        session.add_all(slots)
        people = [{"resident_no": f"P{n:07d}", "name": f"住民{n}", "name_kana": "ジュウミン",
                   "birth_date": date(1950, 1, 1), "language": "ja"} for n in range(count)]
        ids = list(session.scalars(insert(Resident).returning(Resident.id),
                                   with_digests(Resident, people)))
        session.commit()
        return [s.id for s in slots], ids


def profile(url: str, bookings: int) -> dict:
    """Book `bookings` places one at a time; per-booking wall, CPU and round trips."""
    engine = make_engine(url)
    reset_database(engine)
    slots, people = _world(engine, bookings + 20)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    trips = RoundTrips(engine)

    def book(n: int) -> None:
        with factory() as session:
            booking.book(session, slot_id=slots[n // 10], resident_id=people[n],
                         channel=("ivr", "operator", "api")[n % 3])

    for n in range(20):  # warm-up: pool filled, statements compiled and cached
        book(bookings + n)
    trips.count = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(bookings):
        book(n)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    return {"backend": engine.dialect.name, "bookings": bookings,
            "round_trips_per_booking": round(trips.count / bookings, 2),
            "wall_ms_per_booking": round(wall * 1000 / bookings, 3),
            "client_cpu_ms_per_booking": round(cpu * 1000 / bookings, 3)}


def _package(frame: str) -> str:
    for name, needles in PACKAGES:
        if any(needle in frame for needle in needles):
            return name
    return "other (Python, threads)"


def summarize(path: Path) -> None:
    """Print py-spy raw samples as self time per package and inclusive time per booking step."""
    own: Counter = Counter()
    steps: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack or not samples.isdigit():
            continue
        frames = stack.split(";")
        if not any("madoguchi/booking.py" in f for f in frames):
            continue  # set-up and warm-up outside the booking code
        n = int(samples)
        total += n
        own[_package(frames[-1])] += n
        under = {f.split(" (")[0] for f in frames
                 if ("madoguchi/booking.py" in f or "madoguchi/booking_statements.py" in f)
                 and "<" not in f.split(" (")[0]}
        under |= {f.split(" (")[0] for f in frames if f.split(" (")[0] in SESSION_STEPS}
        for step in under:
            steps[step] += n
    if not total:
        print("no samples inside madoguchi/booking.py")
        return
    print(f"{total} samples inside the booking code")
    print("self time by package:")
    for name, n in own.most_common():
        print(f"  {name:40} {100 * n / total:5.1f} %")
    print("inclusive time by step:")
    for name, n in steps.most_common():
        print(f"  {name:40} {100 * n / total:5.1f} %")


def main(argv: list[str] | None = None) -> int:
    """Profile on the database given (and on a SQLite file), or summarize a py-spy file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=400)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE)
    parser.add_argument("--sqlite", action=argparse.BooleanOptionalAction, default=True,
                        help="also profile on a SQLite file (default: yes)")
    parser.add_argument("--summarize", type=Path, help="a py-spy --format raw file")
    args = parser.parse_args(argv)
    if args.summarize:
        summarize(args.summarize)
        return 0
    check_bench_database(args.database_url)
    sealing.install(Keyring.fresh())
    print(profile(args.database_url, args.bookings), flush=True)
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            print(profile(f"sqlite:///{tmp}/profile.db", args.bookings), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
