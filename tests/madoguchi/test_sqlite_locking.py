"""SQLite: only a transaction that writes takes the write lock; readers never wait for it."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text

from madoguchi.db import ONE_STATEMENT, make_engine
from madoguchi.sqlite_turn import LOCK_SUFFIX, WriterTurn

try:
    import fcntl
except ImportError:
    fcntl = None  # type: ignore[assignment]


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


# --- writers of several processes (`madoguchi serve` runs several web processes) -----------

_PROCESS_WRITER = """
import sys, threading
from sqlalchemy import text
from madoguchi.db import make_engine

engine = make_engine(f"sqlite:///{sys.argv[1]}")
threads, rounds, name = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
errors = []

def write(thread):
    try:
        for round_ in range(rounds):
            with engine.begin() as conn:
                conn.execute(text("SELECT n FROM counters WHERE id = 1")).scalar_one()
                conn.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))
                conn.execute(text("INSERT INTO writes (who) VALUES (:who)"),
                             {"who": f"{name}-{thread}-{round_}"})
    except BaseException as exc:
        errors.append(repr(exc))

workers = [threading.Thread(target=write, args=(i,)) for i in range(threads)]
for worker in workers:
    worker.start()
for worker in workers:
    worker.join()
print("\\n".join(errors))
sys.exit(1 if errors else 0)
"""


def test_writers_of_several_processes_at_once_all_land_without_database_is_locked(
        sqlite_engine, tmp_path):
    with sqlite_engine.begin() as conn:
        conn.execute(text("CREATE TABLE writes (who TEXT NOT NULL UNIQUE)"))
    database = tmp_path / "locks.db"
    processes = [subprocess.Popen(
        [sys.executable, "-c", _PROCESS_WRITER, str(database), "6", "25", f"p{index}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for index in range(4)]
    outputs = [process.communicate(timeout=120)[0] for process in processes]
    assert [process.returncode for process in processes] == [0] * 4, outputs
    assert not any("locked" in output for output in outputs), outputs
    with sqlite_engine.connect() as conn:
        assert _count(conn) == 4 * 6 * 25  # no increment lost
        assert conn.execute(text("SELECT count(*) FROM writes")).scalar_one() == 4 * 6 * 25


def _another_process_could_write(turn_file) -> bool:
    """Whether the writers' turn is free: a separate open file, as another process has, which
    flock refuses while the turn is held."""
    fd = os.open(turn_file, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


@pytest.mark.skipif(fcntl is None, reason="one process serves where there is no flock")
def test_a_writing_transaction_holds_the_turn_of_every_process_until_it_ends(sqlite_engine,
                                                                           tmp_path):
    turn_file = tmp_path / ("locks.db" + LOCK_SUFFIX)

    def another_process_could_write() -> bool:
        return _another_process_could_write(turn_file)

    with sqlite_engine.connect() as conn:
        conn.begin()
        _count(conn)
        assert another_process_could_write()  # reading takes no turn
        conn.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))
        assert not another_process_could_write()
        conn.commit()
        assert another_process_could_write()
        conn.begin()
        conn.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"))
        conn.rollback()
        assert another_process_could_write()  # a rollback passes the turn on too
    assert oct(turn_file.stat().st_mode & 0o777) == oct(0o600)


def test_every_web_thread_keeps_a_connection_of_its_own_without_reopening_it(sqlite_engine):
    from sqlalchemy import event

    from madoguchi.serve import WEB_THREADS

    opened: list[int] = []
    event.listen(sqlite_engine, "connect", lambda *_: opened.append(1))
    start = threading.Barrier(WEB_THREADS)
    all_in = threading.Barrier(WEB_THREADS, timeout=10)

    def request() -> None:
        start.wait()
        with sqlite_engine.connect() as conn:
            _count(conn)
            all_in.wait()  # every thread holds a connection at the same time: none queued

    rounds = []
    for _ in range(2):
        threads = [threading.Thread(target=request) for _ in range(WEB_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        rounds.append(len(opened))
    assert not all_in.broken
    # The second round opens nothing: every connection went back to the pool and stayed.
    assert rounds[1] == rounds[0]


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_still_opens(url):
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()


def _sqlite_statements(conn) -> list[str]:
    """Every statement SQLite itself runs on this connection from now on (BEGIN included)."""
    seen: list[str] = []
    conn.connection.dbapi_connection.set_trace_callback(seen.append)
    return seen


def test_a_one_statement_write_runs_without_begin_or_commit_and_is_kept(sqlite_engine):
    with sqlite_engine.connect() as conn:
        seen = _sqlite_statements(conn)
        conn.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"),
                     execution_options={ONE_STATEMENT: True})
        conn.commit()
        conn.connection.dbapi_connection.set_trace_callback(None)
    assert seen == ["UPDATE counters SET n = n + 1 WHERE id = 1"]
    with sqlite_engine.connect() as other:
        assert _count(other) == 1


@pytest.mark.skipif(fcntl is None, reason="one process serves where there is no flock")
def test_a_one_statement_write_holds_the_writers_turn_until_its_commit(sqlite_engine, tmp_path):
    turn_file = tmp_path / ("locks.db" + LOCK_SUFFIX)
    with sqlite_engine.connect() as conn:
        conn.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"),
                     execution_options={ONE_STATEMENT: True})
        assert not _another_process_could_write(turn_file)
        conn.commit()
        assert _another_process_could_write(turn_file)


def test_a_second_statement_after_a_one_statement_write_is_refused_and_the_turn_passes_on(
        sqlite_engine, tmp_path):
    with sqlite_engine.connect() as conn:
        conn.execute(text("UPDATE counters SET n = n + 1 WHERE id = 1"),
                     execution_options={ONE_STATEMENT: True})
        with pytest.raises(RuntimeError, match="one-statement"):
            conn.execute(text("UPDATE counters SET n = n + 10 WHERE id = 1"))
        conn.rollback()
    if fcntl is not None:
        assert _another_process_could_write(tmp_path / ("locks.db" + LOCK_SUFFIX))
    done = threading.Event()

    def write_in_another_thread() -> None:
        with sqlite_engine.begin() as other:
            other.execute(text("UPDATE counters SET n = n + 100 WHERE id = 1"))
        done.set()

    threading.Thread(target=write_in_another_thread).start()
    # Well within the 5 s a writer waits for a turn this process's mutex still held.
    assert done.wait(2), "the writers' turn was not passed on"
    with sqlite_engine.connect() as conn:
        assert _count(conn) == 101  # the one statement was its own transaction: kept


def test_a_one_statement_insert_whose_returned_rows_were_not_read_frees_the_lock_at_commit(
        sqlite_engine, tmp_path):
    # SQLite commits a statement of its own when the statement is reset; with RETURNING rows
    # left unread that is only when the cursor closes, which the commit must do before the
    # turn passes on.
    with sqlite_engine.connect() as conn:
        conn.execution_options(**{ONE_STATEMENT: True})
        unread = conn.execute(text("INSERT INTO counters (id, n) VALUES (2, 0) RETURNING id"))
        conn.commit()
        other = sqlite3.connect(tmp_path / "locks.db", timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" if it were still held
            other.execute("ROLLBACK")
        finally:
            other.close()
        del unread
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM counters")).scalar_one() == 2


def _until_waiting(turn: WriterTurn, count: int) -> None:
    deadline = time.monotonic() + 30
    while turn.waiting < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert turn.waiting == count


def test_a_writer_that_lets_the_turn_go_and_asks_again_queues_behind_the_one_waiting():
    # A plain lock goes back to the thread that let it go, which is still running: under a
    # surge, a greeting could wait through many turns. Writers are served in order.
    turn = WriterTurn(None)
    order: list[str] = []
    assert turn.acquire(timeout=5)

    def other_writer() -> None:
        assert turn.acquire(timeout=30)
        order.append("the one waiting")
        turn.release()

    waiting = threading.Thread(target=other_writer)
    waiting.start()
    _until_waiting(turn, 1)
    turn.release()
    assert turn.acquire(timeout=30)
    order.append("the one that let go")
    turn.release()
    waiting.join()
    assert order == ["the one waiting", "the one that let go"]


def test_writers_who_ask_again_at_once_go_to_the_back_of_the_queue():
    turn = WriterTurn(None)
    order: list[int] = []
    assert turn.acquire(timeout=5)

    def writer(number: int) -> None:
        for _ in range(3):
            assert turn.acquire(timeout=30)
            order.append(number)
            turn.release()  # and at once asks again, behind everyone waiting

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(4)]
    for number, thread in enumerate(threads):
        thread.start()
        _until_waiting(turn, number + 1)  # each asks after the one before
    turn.release()
    for thread in threads:
        thread.join()
    assert order == [0, 1, 2, 3] * 3


def test_a_writer_that_gave_up_waiting_leaves_the_queue_and_the_turn_comes_free():
    turn = WriterTurn(None)
    assert turn.acquire(timeout=5)
    gave_up: list[bool] = []
    waiter = threading.Thread(target=lambda: gave_up.append(not turn.acquire(timeout=0.1)))
    waiter.start()
    waiter.join()
    assert gave_up == [True] and turn.waiting == 0
    turn.release()
    started = time.monotonic()
    assert turn.acquire(timeout=5)  # free at once: not handed to the one who left
    assert time.monotonic() - started < 1.0
    turn.release()
    with pytest.raises(RuntimeError):
        turn.release()  # let go twice: a bug, said at once


class _Interrupted(Exception):
    """What the test's signal handler raises in the waiting thread."""


def _interrupt(_signum, _frame):
    raise _Interrupted


def _wait_until_a_signal(turn: WriterTurn, handler) -> None:
    """Wait for the turn until SIGUSR1 comes 0.2 s later and `handler` raises _Interrupted."""
    # A handler of the test's own: others (RQ's for SIGINT) may be installed by earlier tests.
    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        with pytest.raises(_Interrupted):
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1)).start()
            turn.acquire(timeout=60)
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_a_writer_interrupted_while_waiting_leaves_the_turn_to_the_others():
    # As Ctrl-C or a worker's stop signal would, a signal's handler raises in the main thread
    # while it waits for the turn.
    turn = WriterTurn(None)
    holder_has_it, holder_may_go = threading.Event(), threading.Event()

    def holder() -> None:
        assert turn.acquire(timeout=5)
        holder_has_it.set()
        holder_may_go.wait(60)
        turn.release()  # hands the turn to the waiter, unless it left the queue

    thread = threading.Thread(target=holder)
    thread.start()
    assert holder_has_it.wait(30)
    try:
        _wait_until_a_signal(turn, _interrupt)
    finally:
        holder_may_go.set()
        thread.join()
    assert turn.acquire(timeout=1)  # free: the one interrupted took nothing with it
    turn.release()


def test_a_writer_interrupted_just_as_the_turn_reached_it_passes_the_turn_on():
    turn = WriterTurn(None)
    assert turn.acquire(timeout=5)

    def hand_over_then_interrupt(_signum, _frame):
        turn.release()  # the turn reaches the one waiting (this thread) …
        raise _Interrupted  # … which is interrupted before it can use it

    _wait_until_a_signal(turn, hand_over_then_interrupt)
    assert turn.acquire(timeout=1)  # passed on, not kept by the one interrupted
    turn.release()
