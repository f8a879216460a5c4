"""Turns handed out in the order they were asked for: one holder at a time, or a few."""

from __future__ import annotations

import threading
from collections import deque


class FairTurns:
    """Up to `at_once` holders at a time; the others wait, and are let in in the order they came.

    A plain lock or semaphore goes to whichever thread runs first when it is let go, often the
    one that let it go: under a surge of greetings some writers waited through many turns, and
    the greeting's slowest answers were a third slower than with their turns taken in order.
    """

    def __init__(self, at_once: int = 1) -> None:
        if at_once < 1:
            raise ValueError(f"at_once must be 1 or more, not {at_once}")
        self._at_once = at_once
        self._guard = threading.Lock()
        self._free = at_once
        self._waiting: deque[threading.Lock] = deque()

    @property
    def waiting(self) -> int:
        """How many threads wait for a turn now."""
        return len(self._waiting)

    def acquire(self, timeout: float) -> bool:
        """Wait behind those already waiting; True once a turn is held, False after timeout.

        A turn handed over just as the timeout ran out is kept (True): it was let go to this
        waiter, and nobody else will take it.
        """
        with self._guard:
            if self._free and not self._waiting:
                self._free -= 1
                return True
            # Each waiter sleeps on a lock of its own, which a holder lets go to hand over.
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
        """Leave the queue; True when a turn was handed over first (it is then held)."""
        with self._guard:
            if baton in self._waiting:
                self._waiting.remove(baton)
                return False
            return True

    def release(self) -> None:
        """Hand the turn to the longest waiter, or free it when nobody waits."""
        with self._guard:
            if self._free == self._at_once:
                raise RuntimeError("released a turn that nobody holds")
            if self._waiting:
                self._waiting.popleft().release()  # still taken: it changes hands
            else:
                self._free += 1
