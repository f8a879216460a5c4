"""Shared pieces of the benchmarks that time queries on a large history loaded with COPY."""

from __future__ import annotations

import statistics
import time
from datetime import date, datetime


def insert_campaign_and_site(cur, now: datetime) -> tuple[int, int]:
    """One campaign and one site for the loaded slots; their ids."""
    cur.execute("INSERT INTO campaigns (code, name, name_en, active, created_at) "
                "VALUES ('BENCH', 'ベンチ', 'Bench', true, %s) RETURNING id", (now,))
    campaign = cur.fetchone()[0]
    cur.execute("INSERT INTO sites (code, name, name_en, address) "
                "VALUES ('S1', '会場', 'Hall', '') RETURNING id")
    return campaign, cur.fetchone()[0]


def copy_residents(cur, count: int, now: datetime) -> None:
    """COPY `count` residents numbered R000000000 on (ids 1 to count on a fresh schema)."""
    with cur.copy("COPY residents (resident_no, name, name_kana, birth_date, language, "
                  "created_at, updated_at) FROM STDIN") as copy:
        for k in range(count):
            copy.write_row((f"R{k:09d}", f"住民{k}", "ジュウミン", date(1950, 1, 1), "ja",
                            now, now))


def timed(fn, repeats: int) -> dict:
    """p50 and max wall time of `fn` in milliseconds, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
            "repeats": repeats}
