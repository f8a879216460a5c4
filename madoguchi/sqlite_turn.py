"""Whose turn it is to write to a SQLite file: threads of one process, and processes.

SQLite lets one writer at a time; one left waiting sleeps in its busy handler, napping up to
100 ms between looks at the lock, so under load the worst waits reach seconds. Writers here
queue instead: the threads of a process in the order they came, then the processes sharing
the file on an advisory lock of a file beside it (flock), and the kernel wakes the next one the
moment the lock is let go. A process that dies holding it lets go with its last file
descriptor.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from pathlib import Path

from madoguchi.fair_turns import FairTurns
from madoguchi.private_files import FILE_MODE

try:
    import fcntl
except ImportError:  # Windows: one process serves there, so the mutex alone orders writers
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = "-writer"


class WriterTurn:
    """The turn to write to one SQLite file: a mutex, and a file lock between processes."""

    def __init__(self, database_file: Path | None) -> None:
        # One mutex per process: a fork copies the parent's, with whatever its threads held.
        self._mutex = FairTurns()
        self._mutex_pid = os.getpid()
        self._path = (database_file.with_name(database_file.name + LOCK_SUFFIX)
                      if database_file is not None and fcntl is not None else None)
        # One descriptor per process: flock belongs to the open file, which a fork shares.
        self._fd: int | None = None
        self._fd_pid = 0

    @property
    def between_processes(self) -> bool:
        """True when writers of other processes take turns with this one's."""
        return self._path is not None

    @property
    def waiting(self) -> int:
        """How many of this process's threads wait for the turn now."""
        return self._mutex.waiting

    def acquire(self, timeout: float) -> bool:
        """Wait for the turn (up to timeout for this process's mutex); False if not had.

        A timeout of 0 takes the turn only if it is free this moment, in this process and
        between processes, without waiting for either.
        """
        if self._mutex_pid != os.getpid():
            self._mutex, self._mutex_pid = FairTurns(), os.getpid()
        if not self._mutex.acquire(timeout=timeout):
            return False
        try:
            fd = self._descriptor()
            if fd is not None:
                # Waits without the GIL; woken when it is free.
                fcntl.flock(fd, fcntl.LOCK_EX | (fcntl.LOCK_NB if timeout == 0 else 0))
        except BlockingIOError:
            self._mutex.release()
            return False
        except BaseException:
            self._mutex.release()
            raise
        return True

    def release(self) -> None:
        """Pass the turn on: to the next process first, then to the next thread."""
        try:
            if self._fd is not None and self._fd_pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()

    def _descriptor(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._fd_pid != os.getpid():
            # The descriptor inherited across a fork is left to the parent, never unlocked here.
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
            self._fd_pid = os.getpid()
            # Closed with the engine that owns this turn, never while a writer may hold it.
            weakref.finalize(self, _close, self._fd)
        return self._fd


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
