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
import threading
import weakref
from collections import deque
from pathlib import Path

from madoguchi.private_files import FILE_MODE

try:
    import fcntl
except ImportError:  # Windows: one process serves there, so the mutex alone orders writers
    fcntl = None  # type: ignore[assignment]

LOCK_SUFFIX = "-writer"


class FairMutex:
    """A mutex that passes to the threads waiting for it in the order they came."""

    # A plain lock goes to whichever thread runs first when it is let go, often the one that
    # let it go: under a surge of greetings some writers waited through many turns, and the
    # greeting's slowest answers were a third slower than with their turns taken in order.

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Lock] = deque()

    @property
    def waiting(self) -> int:
        """How many threads wait for the mutex now."""
        return len(self._waiting)

    def acquire(self, timeout: float) -> bool:
        """Wait behind those already waiting; True once held (also if handed over as the
        timeout ran out), False after timeout seconds without it."""
        with self._guard:
            if not self._held and not self._waiting:
                self._held = True
                return True
            # Each waiter sleeps on a lock of its own, which the holder lets go to hand over.
            baton = threading.Lock()
            baton.acquire()
            self._waiting.append(baton)
        try:
            if baton.acquire(timeout=timeout):
                return True
        except BaseException:
            if self._withdraw(baton):
                self.release()  # interrupted (Ctrl-C) once it was ours: pass it on
            raise
        return self._withdraw(baton)

    def _withdraw(self, baton: threading.Lock) -> bool:
        """Leave the queue; True when the mutex was handed over first (it is then held)."""
        with self._guard:
            if baton in self._waiting:
                self._waiting.remove(baton)
                return False
            return True

    def release(self) -> None:
        """Hand the mutex to the longest waiter, or free it when nobody waits."""
        with self._guard:
            if not self._held:
                raise RuntimeError("release of a FairMutex that is not held")
            if self._waiting:
                self._waiting.popleft().release()  # still held: it changes hands
            else:
                self._held = False


class WriterTurn:
    """The turn to write to one SQLite file: a mutex, and a file lock between processes."""

    def __init__(self, database_file: Path | None) -> None:
        # One mutex per process: a fork copies the parent's, with whatever its threads held.
        self._mutex = FairMutex()
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
        """Wait for the turn (up to timeout for this process's mutex); False if not had."""
        if self._mutex_pid != os.getpid():
            self._mutex, self._mutex_pid = FairMutex(), os.getpid()
        if not self._mutex.acquire(timeout=timeout):
            return False
        try:
            fd = self._descriptor()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)  # waits without the GIL; woken when it is free
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
