"""Engine and sessions: one engine per app, one session per app context."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InvalidatePoolError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from madoguchi import audit_guard, private_files, resident_terms
from madoguchi.sealing import orm as sealing_orm
from madoguchi.sealing import startup
from madoguchi.sqlite_turn import WriterTurn

T = TypeVar("T")
log = logging.getLogger(__name__)


# SQLite transactions: only one that writes takes the write lock. One whose first statement
# writes begins IMMEDIATE (it waits its turn, up to the busy timeout, instead of failing). One
# that only reads begins DEFERRED and reads its snapshot alongside the writer, so webhooks
# that only read never queue behind each other. When a reading transaction comes to its
# first write, it is begun again IMMEDIATE: upgrading a stale snapshot in place fails at once
# with "database is locked", whereas beginning again waits for the lock. Its earlier reads are
# then from the moment they were made, as under PostgreSQL's READ COMMITTED in production;
# every guarantee that must hold under concurrency is in the statements and constraints
# (guarded updates, unique indexes), never in an earlier read.
_SQLITE_TXN = "madoguchi_sqlite_txn"
_SQLITE_TURN = "madoguchi_sqlite_turn"
_SQLITE_CURSOR = "madoguchi_sqlite_one_statement_cursor"
_PENDING, _READING, _WRITING = "pending", "reading", "writing"
# An execution option for a statement that is a transaction of its own (SQLite's autocommit):
# it waits for the writers' turn like any write, but runs without BEGIN and COMMIT, so the
# turn is held for one call into SQLite instead of three.
ONE_STATEMENT = "madoguchi_one_statement"
_ONE_STATEMENT = "one statement"
_TURN_SECONDS = 5
_READ_ONLY = re.compile(r"^\s*(SELECT|PRAGMA|EXPLAIN)\b", re.IGNORECASE)
_CTE = re.compile(r"^\s*WITH\b", re.IGNORECASE)
_DML = re.compile(r"\b(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _reads_only(statement: str) -> bool:
    """True for a statement that cannot write (a SELECT, a PRAGMA, a CTE without DML)."""
    if _READ_ONLY.match(statement):
        return True
    return bool(_CTE.match(statement)) and not _DML.search(statement)


def _take_sqlite_lock(connection, dbapi_connection, statement: str,
                      turn: WriterTurn, one_statement: bool = False) -> None:
    """Begin the transaction for its first statement; begin again IMMEDIATE at a first write.

    A one-statement write (ONE_STATEMENT) only waits for the writers' turn: SQLite runs the
    statement as its own transaction, and a second statement in it is refused.
    """
    state = connection.info.get(_SQLITE_TXN)
    if state is None or state == _WRITING:
        return
    if state == _ONE_STATEMENT:
        raise RuntimeError("a one-statement SQLite transaction ran a second statement")
    if one_statement and state == _PENDING:
        _wait_for_turn(connection, turn)
        connection.info[_SQLITE_TXN] = _ONE_STATEMENT
        return
    if _reads_only(statement):
        if state == _PENDING:
            dbapi_connection.execute("BEGIN")
            connection.info[_SQLITE_TXN] = _READING
        return
    if state == _READING:
        dbapi_connection.execute("ROLLBACK")  # nothing written yet: only the snapshot goes
    _wait_for_turn(connection, turn)
    connection.info[_SQLITE_TXN] = _WRITING
    try:
        dbapi_connection.execute("BEGIN IMMEDIATE")
    except BaseException:
        _end_sqlite_transaction(connection, commit=False)
        raise


def _wait_for_turn(connection, turn: WriterTurn) -> None:
    """This process's, then this file's, writers' turn; kept on the connection till the end."""
    if turn.acquire(timeout=_TURN_SECONDS):
        connection.info[_SQLITE_TURN] = turn
    else:
        # A writer of this thread holds the turn (nested sessions), or a long queue formed:
        # SQLite's own busy timeout orders this writer and the one holding the turn.
        log.warning("waited %d s for this process's SQLite writer; going on", _TURN_SECONDS)


def _end_sqlite_transaction(connection, *, commit: bool) -> None:
    """Commit or roll back now, then let the next writer of this process have its turn."""
    connection.info.pop(_SQLITE_TXN, None)
    cursor = connection.info.pop(_SQLITE_CURSOR, None)
    turn = connection.info.pop(_SQLITE_TURN, None)
    if turn is None:
        return
    try:
        if cursor is not None:
            # A one-statement write commits when its statement is reset: an INSERT … RETURNING
            # whose rows were not all read still holds SQLite's write lock until then.
            cursor.close()
        # Done here rather than after the event, so the turn passes only once the lock is
        # free; SQLAlchemy's own commit or rollback that follows then finds nothing to do,
        # or meets the same error again and reports it as SQLAlchemy errors are reported.
        dbapi_connection = connection.connection.dbapi_connection
        if commit:
            dbapi_connection.commit()
        else:
            dbapi_connection.rollback()
    except Exception:
        log.debug("SQLite %s before passing the turn failed", "commit" if commit else "rollback")
    finally:
        turn.release()


def sqlite_on_disk(database: str | None) -> bool:
    """True for a SQLite database in a file of its own (not in memory, not a URI)."""
    return bool(database) and database != ":memory:" and not database.startswith("file:")


SQLITE_POOL_SIZE = 48
SQLITE_POOL_OVERFLOW = 16
# A pooled server connection unused for longer than this is checked (one `SELECT 1`) before it
# is handed out: the server may have restarted meanwhile. One in steady use is not: under load
# the check was a second round trip on every webhook. A connection cut while in steady use
# fails at its next statement, the caller hears the apology, and the pool is renewed at once.
IDLE_CHECK_SECONDS = 1.0
_RETURNED_AT = "madoguchi_returned_at"


def check_idle_connections(engine: Engine) -> None:
    """Check a pooled connection before use only when it has been idle (see IDLE_CHECK_SECONDS)."""

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection, record, proxy) -> None:
        returned = record.info.pop(_RETURNED_AT, None)
        if returned is None or time.monotonic() - returned < IDLE_CHECK_SECONDS:
            return  # new, or in steady use
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if not engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # As pool_pre_ping: a new connection for this checkout, and every other connection
            # made before now is replaced too (a restart cut them all).
            raise InvalidatePoolError(f"an idle database connection was cut: {error}") from error


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and a write lock only for writers."""
    if url.startswith("sqlite"):
        if "poolclass" not in kwargs and sqlite_on_disk(make_url(url).database):
            # A connection for each of a web process's threads (madoguchi serve runs 48):
            # with fewer, busy threads wait for one, and each connection given back to a
            # full pool is closed and opened again later, its PRAGMAs with it.
            kwargs.setdefault("pool_size", SQLITE_POOL_SIZE)
            kwargs.setdefault("max_overflow", SQLITE_POOL_OVERFLOW)
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record) -> None:
            # Let SQLAlchemy, not pysqlite, emit BEGIN so it can be BEGIN IMMEDIATE.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection) -> None:
            # The transaction's first statement decides how it begins (see _sqlite_lock).
            connection.info[_SQLITE_TXN] = _PENDING

        # Writers take turns, the threads of this process on a mutex and the processes
        # sharing the file on a file lock: a waiting writer is woken the moment the lock is
        # free, instead of sleeping through SQLite's busy-handler back-off (up to 100 ms a
        # nap) while every web thread of every process polls for the lock.
        database_file = engine.url.database
        on_disk = sqlite_on_disk(database_file)
        turn = WriterTurn(Path(database_file).resolve() if on_disk else None)

        @event.listens_for(engine, "before_cursor_execute")
        def _sqlite_lock(connection, cursor, statement, _params, context, _many) -> None:
            one_statement = context is not None and context.execution_options.get(
                ONE_STATEMENT, False)
            _take_sqlite_lock(connection, cursor.connection, statement, turn, one_statement)

        @event.listens_for(engine, "after_cursor_execute")
        def _sqlite_one_statement(connection, cursor, _statement, _params, _context,
                                  _many) -> None:
            if connection.info.get(_SQLITE_TXN) == _ONE_STATEMENT:
                connection.info[_SQLITE_CURSOR] = cursor

        @event.listens_for(engine, "commit")
        def _sqlite_commit(connection) -> None:
            _end_sqlite_transaction(connection, commit=True)

        @event.listens_for(engine, "rollback")
        def _sqlite_rollback(connection) -> None:
            _end_sqlite_transaction(connection, commit=False)

        if on_disk:
            # Owner-only from the first byte; SQLite gives its -wal and -shm files the same mode.
            private_files.prepare_sqlite_file(Path(database_file).resolve())
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        check_idle_connections(engine)
    return engine


# Every session of the application refuses to change or delete audit rows, fills blind-index
# digests from their sources, and keeps residents' name search terms current.
audit_guard.install()
sealing_orm.install()
resident_terms.install()


class Database:
    """The app's engine and session factory (the `init_app` extension pattern)."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session_factory: sessionmaker[Session] | None = None
        self.keys_checked = False
        self._keyring = None

    def init_app(self, app: Flask) -> None:
        """Bind to the app's DATABASE_URL, check the sealing keys, close sessions after use.

        Wrong keys stop the app here, before it serves anything. When the database cannot be
        reached yet, the keys are installed and checked on the first session instead.
        """
        settings = app.config["SETTINGS"]
        self.engine = make_engine(settings.secrets.database_url)
        self.session_factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        self._keyring = startup.keyring_for(settings.secrets)
        self.check_keys(deferrable=True)
        app.extensions["madoguchi_db"] = self
        app.teardown_appcontext(_close_session)

    def check_keys(self, *, deferrable: bool) -> None:
        """Verify the keys against the database's canary and install them (once per process)."""
        assert self.engine is not None and self._keyring is not None
        try:
            startup.check_and_install(self.engine, self._keyring)
            self.keys_checked = True
        except DBAPIError:
            if not deferrable:
                raise
            startup.state.install(self._keyring)

    def dispose_for_fork(self) -> None:
        """Drop pooled connections inherited across fork (RQ work horses)."""
        if self.engine is not None:
            self.engine.dispose(close=False)

    def new_session(self) -> Session:
        """A fresh session not tied to any request (jobs, threads, CLI)."""
        assert self.session_factory is not None, "Database.init_app was not called"
        if not self.keys_checked:
            self.check_keys(deferrable=True)
        return self.session_factory()


def database() -> Database:
    """The Database of the current app."""
    return current_app.extensions["madoguchi_db"]


def get_session() -> Session:
    """The session of the current app context, created on first use."""
    if "db_session" not in g:
        g.db_session = database().new_session()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def session_scope(db: Database) -> Iterator[Session]:
    """A session for a unit of work outside a request; always closed."""
    session = db.new_session()
    try:
        yield session
    finally:
        session.close()


def is_lock_error(exc: BaseException) -> bool:
    """True for transient contention errors worth retrying (SQLite locked, PG serialization)."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text or "could not serialize" in text or "deadlock" in text


def retry_on_lock(fn: Callable[[], T], session: Session, attempts: int = 5) -> T:
    """Run fn, rolling back and retrying when the database reports transient contention."""
    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            session.rollback()
            if not is_lock_error(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (2**attempt))
    raise AssertionError("unreachable")


def null_pool_engine(url: str) -> Engine:
    """An engine without pooling, for short CLI tasks and forked processes."""
    return make_engine(url, poolclass=NullPool) if url.startswith("sqlite") else create_engine(
        url, poolclass=NullPool
    )
