"""Shared pieces of the benchmarks that time queries on a large history loaded with COPY."""

from __future__ import annotations

import os
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


def bench_settings(database_url: str):
    """Settings for a benchmark database, with fresh keys unless the environment gives some;
    the keys become this process's, so that what the benchmark loads is sealed like the app's."""
    from madoguchi import sealing
    from madoguchi.sealing.keys import new_key
    from madoguchi.sealing.startup import keyring_for
    from madoguchi.settings import load_settings

    env = {"MADOGUCHI_DATA_KEYS": new_key("b1").written(),
           "MADOGUCHI_INDEX_KEY": new_key("bi1").written(), **os.environ,
           "DATABASE_URL": database_url}
    settings = load_settings(env=env)
    sealing.install(keyring_for(settings.secrets))
    return settings


def sealed(context: str, value: str) -> str:
    """A value sealed for a column (table.column), as the application would store it."""
    from madoguchi import sealing

    return sealing.current().seal(value.encode(), context)


def copy_residents(cur, count: int, now: datetime) -> None:
    """COPY `count` residents numbered R000000000 on (ids 1 to count on a fresh schema), sealed
    with their number's and birth date's digests (no name search terms: these benches do not
    search names)."""
    from madoguchi import sealing

    keyring = sealing.current()
    born = date(1950, 1, 1).isoformat()
    with cur.copy("COPY residents (resident_no, name, name_kana, birth_date, language, "
                  "created_at, updated_at, resident_no_digest, birth_digest) FROM STDIN") as copy:
        for k in range(count):
            number = f"R{k:09d}"
            copy.write_row((sealed("residents.resident_no", number),
                            sealed("residents.name", f"住民{k}"),
                            sealed("residents.name_kana", "ジュウミン"),
                            sealed("residents.birth_date", born), "ja", now, now,
                            keyring.digest("resident_no", number),
                            keyring.digest("birth_date", born)))


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
