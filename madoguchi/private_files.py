"""Files only their owner may read: var/ at 0700, secrets, keys and database files at 0600.

A file is never visible with wider permissions, not even for an instant: it is created with
mode 0600 under a temporary name (O_CREAT | O_EXCL, so nobody can have planted it) and then
renamed into place, which is atomic.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# Files the SQLite database is made of; SQLite gives the -wal and -shm files the mode of the
# database file itself.
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal", "-writer")


def ensure_private_dir(path: Path) -> Path:
    """Create the folder readable by its owner only, or narrow an existing one to 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def _private_temporary(path: Path, text: str) -> Path:
    """The text written and synced to a new 0600 file beside `path` (O_EXCL: never planted)."""
    ensure_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    return temporary


def write_private_file(path: Path, text: str) -> None:
    """Write (or replace) a file readable by its owner only, atomically."""
    temporary = _private_temporary(path, text)
    try:
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def create_private_file_once(path: Path, text: str) -> bool:
    """Create the file with this text unless it exists (another process may race); True if made."""
    temporary = _private_temporary(path, text)
    try:
        # link() fails when the name exists: the first of two racing processes wins.
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def tighten(path: Path) -> None:
    """Narrow an existing file to owner-only (files made by an earlier version were 0644)."""
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_mode & 0o777 != FILE_MODE:
            path.chmod(FILE_MODE)


def prepare_sqlite_file(database_path: Path) -> None:
    """Create the SQLite file owner-only before SQLite opens it, and narrow its companions.

    A missing folder is left missing: connecting then fails with SQLite's own clear error.
    """
    if not database_path.parent.is_dir():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    for suffix in SQLITE_SUFFIXES:
        tighten(database_path.with_name(database_path.name + suffix))


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """New files and folders owner-only while inside (for servers that create their own files)."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)
