"""SQLite: only a transaction that writes takes the write lock; readers never wait for it."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from madoguchi.db import make_engine


@pytest.fixture
def sqlite_engine(tmp_path):
    """A file SQLite database with one table and one row, as the app's engine opens it."""
    engine = make_engine(f"sqlite:///{tmp_path / 'locks.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counters (id, n) VALUES (1, 0)"))
    yield engine
    engine.dispose()


def _count(conn) -> int:
    return conn.execute(text("SELECT n FROM counters WHERE id = 1")).scalar_one()


def test_a_reader_reads_at_once_while_another_transaction_holds_the_write_lock(sqlite_engine):
    with sqlite_engine.connect() as writer, sqlite_engine.connect() as reader:
        writer.begin()
        writer.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))
        started = time.monotonic()
        with reader.begin():
            assert _count(reader) == 0  # the last committed value, without waiting
        assert time.monotonic() - started < 1.0
        writer.commit()
        with reader.begin():
            assert _count(reader) == 1


def test_a_reading_transaction_that_comes_to_write_waits_its_turn_instead_of_failing(
        sqlite_engine):
    holding = threading.Event()

    def hold_the_lock() -> None:
        with sqlite_engine.begin() as conn:
            conn.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))
            holding.set()
            time.sleep(0.5)

    with sqlite_engine.connect() as conn:
        conn.begin()
        assert _count(conn) == 0  # a snapshot from before the other writer's commit
        other = threading.Thread(target=hold_the_lock)
        other.start()
        holding.wait(5)
        conn.execute(text("UPDATE counters SET n = n + 10 WHERE id = 1"))
        conn.commit()
        other.join()
        with conn.begin():
            assert _count(conn) == 11  # both writes kept: no "database is locked", none lost


def test_concurrent_increments_by_readers_that_write_are_all_kept(sqlite_engine):
    errors: list[BaseException] = []

    def increment() -> None:
        try:
            for _ in range(20):
                with sqlite_engine.begin() as conn:
                    _count(conn)
                    conn.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=increment) for _ in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with sqlite_engine.connect() as conn:
        assert _count(conn) == 160
