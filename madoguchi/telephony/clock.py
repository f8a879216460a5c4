"""Time for the simulator: a real clock for people at a terminal, a virtual one for tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

# How often a real wait looks for a redirect or hang-up sent from elsewhere.
POLL_SECONDS = 0.2


class Clock(Protocol):
    """Seconds since the call started, and a way to let time pass."""

    def now(self) -> float:
        """Seconds on this clock."""
        ...

    def wait(self, seconds: float, interrupted: Callable[[], bool]) -> None:
        """Let seconds pass, returning early once interrupted() is true."""
        ...


class VirtualClock:
    """Time passes instantly: a 10-second Gather timeout costs nothing in a test."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        """Seconds of simulated time."""
        return self._now

    def wait(self, seconds: float, interrupted: Callable[[], bool]) -> None:
        """Advance the simulated time at once (unless something is already pending)."""
        if not interrupted():
            self._now += max(seconds, 0.0)


class RealClock:
    """Wall-clock time, for a person listening at a terminal."""

    def now(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    def wait(self, seconds: float, interrupted: Callable[[], bool]) -> None:
        """Sleep in short steps, waking early when interrupted() becomes true."""
        deadline = time.monotonic() + max(seconds, 0.0)
        while not interrupted():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(POLL_SECONDS, left))
