"""PostgreSQL connections: checked before use only after sitting idle, renewed when cut.

The pool no longer sends `SELECT 1` before every statement (a second round trip on every
webhook): a connection in steady use goes straight to work, one unused for over a second is
checked first and replaced if the server cut it meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from madoguchi import db


@pytest.fixture
def pg_engine(engine: Engine) -> Iterator[Engine]:
    """An engine of the application's own making on the test PostgreSQL database."""
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: set DATABASE_URL to a PostgreSQL database")
    own = db.make_engine(engine.url.render_as_string(hide_password=False), pool_size=1,
                         max_overflow=0)
    yield own
    own.dispose()


@pytest.fixture
def pings(pg_engine: Engine, monkeypatch) -> list[int]:
    """One entry for each check the pool makes before handing a connection out."""
    made: list[int] = []
    real_ping = pg_engine.dialect.do_ping

    def counted(dbapi_connection) -> bool:
        made.append(1)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(pg_engine.dialect, "do_ping", counted)
    return made


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _cut(engine: Engine, pid: int) -> None:
    """The server ends one connection, as a restart ends them all."""
    killer = db.make_engine(engine.url.render_as_string(hide_password=False), pool_size=1)
    try:
        with killer.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"),
                                      {"pid": pid}).scalar_one()
    finally:
        killer.dispose()


@pytest.fixture
def steady(monkeypatch) -> None:
    """However slow this machine is between two statements, the connection counts as in use."""
    monkeypatch.setattr(db, "IDLE_CHECK_SECONDS", 3600.0)


def test_a_connection_in_steady_use_is_not_checked_before_each_statement(
        pg_engine, pings, steady):
    pid = _backend_pid(pg_engine)
    for _ in range(5):
        assert _backend_pid(pg_engine) == pid
    assert pings == []


def test_a_connection_idle_for_a_while_is_checked_before_it_is_handed_out(
        pg_engine, pings, monkeypatch):
    pid = _backend_pid(pg_engine)
    monkeypatch.setattr(db, "IDLE_CHECK_SECONDS", 0.0)
    assert _backend_pid(pg_engine) == pid
    assert pings == [1]


def test_an_idle_connection_the_server_cut_is_replaced_without_an_error(
        pg_engine, pings, monkeypatch):
    pid = _backend_pid(pg_engine)
    _cut(pg_engine, pid)
    monkeypatch.setattr(db, "IDLE_CHECK_SECONDS", 0.0)
    assert _backend_pid(pg_engine) != pid
    assert pings == [1]


def test_after_a_cut_idle_connection_the_other_pooled_ones_are_replaced_too(monkeypatch, engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: set DATABASE_URL to a PostgreSQL database")
    two = db.make_engine(engine.url.render_as_string(hide_password=False), pool_size=2,
                         max_overflow=0)
    try:
        with two.connect() as first, two.connect() as second:
            pids = [connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                    for connection in (first, second)]
        for pid in pids:
            _cut(two, pid)  # as a restart cuts them all
        monkeypatch.setattr(db, "IDLE_CHECK_SECONDS", 0.0)
        assert _backend_pid(two) not in pids  # the check found the cut and renewed the pool
        monkeypatch.setattr(db, "IDLE_CHECK_SECONDS", 3600.0)  # no check: a renewed pool's
        with two.connect() as first, two.connect() as second:
            again = [connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
                     for connection in (first, second)]
        assert not set(again) & set(pids)
    finally:
        two.dispose()


def test_a_connection_cut_in_steady_use_fails_once_then_the_pool_is_renewed(
        pg_engine, pings, steady):
    pid = _backend_pid(pg_engine)
    _cut(pg_engine, pid)
    with pytest.raises(OperationalError):
        _backend_pid(pg_engine)
    assert _backend_pid(pg_engine) != pid
    assert pings == []
