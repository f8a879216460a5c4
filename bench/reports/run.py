"""Reports benchmark: every console page and report on a year of data, and the report code.

Usage:  python bench/reports/run.py [--calls 1000000] [--bookings 100000] [--inquiries 50000]
                                    [--repeats 20] [--database-url postgresql://…/…bench…]
                                    [--redis-url redis://127.0.0.1:6379/5] [--reuse] [--quick]

Drops and rebuilds the schema of the database it is given (the name must contain "bench";
a SQLite URL for the quick mode), loads a year of a million calls, a campaign of 10,000 slots
with 100,000 bookings of every status, 100,000 residents and 50,000 inquiries with timelines
(bench/reports/year.py; COPY on PostgreSQL), then on a warm cache:

1. every console page a supervisor can open, through the Flask test client signed in through
   the login form (bench/reports/pages.py): p50 / p99 over --repeats rounds, and each as a
   ratio to a ceiling measured in the same rounds (/console/me through the same stack);
2. the report code itself (the capacity ledger, inquiry analytics), without the web layer;
3. the calls export of a day and of a month through the CSV writer to nowhere: rows per
   second, and in a second pass the peak Python memory (tracemalloc) while streaming.

`--reuse` times the data an earlier run loaded (its counts are read from the results file);
the sealed columns open only with the keys they were sealed with, so give the same
MADOGUCHI_DATA_KEYS and MADOGUCHI_INDEX_KEY in the environment to both runs. `--quick` loads
a few days' worth (for the test that keeps this benchmark working).

Prints a table and writes bench/reports/runs/<time>/results.json (or --output).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from agent_console.services import capacity_ledger, exports, inquiry_analytics  # noqa: E402
from bench._loading import bench_settings, timed  # noqa: E402
from bench._results import write_record  # noqa: E402
from bench.reports import pages, year  # noqa: E402
from bench.stack import DEFAULT_REDIS, check_bench_database, reset_database  # noqa: E402
from madoguchi import create_app  # noqa: E402
from madoguchi.csv_safety import csv_lines  # noqa: E402
from madoguchi.db import make_engine  # noqa: E402
from madoguchi.models import FaqEntry, FaqText, Inquiry, Operator  # noqa: E402

ZONE = year.ZONE
DAYS = year.DAYS
API_TOKEN = "bench-api-token"


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


def _app(settings_env: dict[str, str]):
    from madoguchi.settings import load_settings

    return create_app(load_settings(env=settings_env), overrides={"TESTING": True})


def _ids(app) -> dict[str, int]:
    """Real ids for the record pages, and a FAQ entry to open."""
    from madoguchi.db import get_session

    with app.app_context():
        session = get_session()
        faq = FaqEntry(position=1, texts=[FaqText(language="ja", title="ごみの出し方",
                                                  answer="燃えるごみは月曜と木曜です。")])
        session.add(faq)
        session.commit()
        return {"campaign": 1, "resident": 1, "faq": faq.id,
                "inquiry": session.scalar(select(Inquiry.id).order_by(Inquiry.id.desc())),
                "operator": session.scalar(select(Operator.id).where(
                    Operator.username == "bench-supervisor"))}


def _machine_load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    """Run the benchmark, print the tables and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--bookings", type=int, default=100_000)
    parser.add_argument("--inquiries", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--reuse", action="store_true",
                        help="time the data already loaded by an earlier run (no reload)")
    parser.add_argument("--quick", action="store_true",
                        help="a few thousand rows and 3 rounds, to check the benchmark works")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/reports_bench"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--note", default="", help="a remark stored with the results")
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default: a new runs/<time>/results.json)")
    args = parser.parse_args()
    if args.quick:
        args.calls, args.bookings, args.inquiries, args.repeats = 3000, 600, 400, 3
    check_bench_database(args.database_url)
    settings = bench_settings(args.database_url)
    env = {**os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
           "MADOGUCHI_API_TOKEN": API_TOKEN, "SECRET_KEY": "bench-secret",
           # The keys the loaded rows are sealed with.
           "MADOGUCHI_DATA_KEYS": settings.secrets.data_keys,
           "MADOGUCHI_INDEX_KEY": settings.secrets.index_keys}
    if args.database_url.startswith("sqlite:///") and not args.reuse:
        # The SQLite file is the benchmark's own: start from an empty one.
        Path(args.database_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    engine = make_engine(settings.secrets.database_url)
    first = date(2025, 4, 1)
    last = first + timedelta(days=DAYS - 1)
    if args.reuse:
        # The counts of the data loaded earlier: from --output, else the curated results.
        loaded = json.loads((args.output or HERE / "results.json").read_text())["loaded"]
    else:
        reset_database(engine)
        loaded = year.load(engine, calls=args.calls, bookings=args.bookings,
                           inquiries=args.inquiries, first=first)
    print(f"loaded {loaded['calls']:,} calls, {loaded['bookings']:,} bookings in "
          f"{loaded['slots']:,} slots, {loaded['inquiries']:,} inquiries "
          f"in {loaded['load_seconds']} s")
    load_before = _machine_load()
    app = _app(env)
    if not args.reuse:
        pages.staff(app)
    ids = _ids(app)
    page_list = pages.pages(app, first=first, last=last, ids=ids, api_token=API_TOKEN)
    page_times = pages.time_pages(app, page_list, args.repeats)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    campaign = loaded["campaign_id"]
    busy_day = first + timedelta(days=10)
    results = {}
    with factory() as session:
        whole = capacity_ledger.build(session, capacity_ledger.LedgerChoice(campaign), ZONE)
        assert whole.totals.unreconciled == 0, "the loaded counters disagree with the rows"
        cases = {
            f"ledger, whole campaign ({loaded['slots']:,} slots)": lambda: capacity_ledger.build(
                session, capacity_ledger.LedgerChoice(campaign), ZONE),
            "ledger, one day (18 slots)": lambda: capacity_ledger.build(
                session, capacity_ledger.LedgerChoice(campaign, busy_day, busy_day), ZONE),
            "inquiry analytics, 28 days per day": lambda: inquiry_analytics.analyse(
                session, inquiry_analytics.ReportChoice(busy_day, busy_day + timedelta(days=27)),
                ZONE),
            "inquiry analytics, a year per week": lambda: inquiry_analytics.analyse(
                session, inquiry_analytics.ReportChoice(first, last, "week"), ZONE),
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
    load_after = _machine_load()
    print(f"machine: {os.cpu_count()} cores; before: {load_before}; after: {load_after}")
    print(f"\n{'page':50} {'p50 ms':>8} {'p99 ms':>8} {'p99/ceiling':>12}")
    for name, value in page_times.items():
        print(f"{name:50} {value['p50_ms']:>8} {value['p99_ms']:>8} "
              f"{value['p99_over_ceiling']:>12}")
    print(f"\n{'report code':45} {'p50 ms':>9} {'max ms':>9}")
    for name, value in results.items():
        print(f"{name:45} {value['p50_ms']:>9} {value['max_ms']:>9}")
    print(f"\n{'export':28} {'rows':>8} {'MB':>6} {'s':>7} {'rows/s':>8} {'peak MiB':>9}")
    for name, value in exported.items():
        print(f"{name:28} {value['rows']:>8} {value['megabytes']:>6} {value['seconds']:>7} "
              f"{value['rows_per_second']:>8} {value['peak_python_mib']:>9}")
    # Recorded without the machine's paths and the database's name: the backend says enough.
    args.database_url = args.database_url.split(":", 1)[0].split("+", 1)[0]
    if args.output is not None and args.output.resolve().is_relative_to(ROOT):
        os.chdir(ROOT)
        args.output = args.output.resolve().relative_to(ROOT)
    write_record("reports", args, {
        "loaded": loaded, "uptime_before": load_before, "uptime_after": load_after,
        "pages": page_times, "timings": results, "exports": exported,
    })


if __name__ == "__main__":
    main()
