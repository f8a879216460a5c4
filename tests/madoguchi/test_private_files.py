"""Files that hold data are their owner's alone, whatever the umask, from the first byte."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from madoguchi.db import make_engine
from madoguchi.private_files import ensure_private_dir, write_private_file
from madoguchi.serve import start_embedded_redis, stop_embedded_redis


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask():
    """The widest umask a careless service manager could start Madoguchi with."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_the_sqlite_database_and_its_wal_and_shm_files_are_owner_only(tmp_path,
                                                                     permissive_umask):
    var = ensure_private_dir(tmp_path / "var")
    engine = make_engine(f"sqlite:///{var / 'madoguchi.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x TEXT)"))
        connection.execute(text("INSERT INTO t VALUES ('a')"))
    with engine.connect() as connection:
        connection.execute(text("SELECT x FROM t")).all()
        files = sorted(var.iterdir())
        # -writer: the writers' turn between processes (see madoguchi/sqlite_turn.py)
        assert [p.name for p in files] == ["madoguchi.db", "madoguchi.db-shm", "madoguchi.db-wal",
                                           "madoguchi.db-writer"]
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    engine.dispose()
    assert _mode(var) == 0o700


def test_a_database_file_an_earlier_version_left_readable_is_narrowed(tmp_path):
    database = tmp_path / "madoguchi.db"
    database.touch()
    database.chmod(0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o600


def test_a_private_file_is_written_whole_owner_only_and_leaves_no_temporary(tmp_path,
                                                                           permissive_umask):
    target = tmp_path / "keys" / "data_keys"
    write_private_file(target, "k1:secret\n")
    write_private_file(target, "k2:newer\n")
    assert target.read_text() == "k2:newer\n" and _mode(target) == 0o600
    assert _mode(target.parent) == 0o700
    assert [p.name for p in target.parent.iterdir()] == ["data_keys"]


def test_the_embedded_redis_keeps_its_files_owner_only(tmp_path):
    var = tmp_path / "var"
    server = start_embedded_redis(var)
    try:
        server.set("madoguchi:test", "1")
        server.save()
    finally:
        stop_embedded_redis(server)
    files = list(var.iterdir())
    assert "redis.db" in {p.name for p in files}
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert _mode(var) == 0o700
