"""CPU time that groups of processes used while something was measured.

A webhook's cost does not stop at the web process: the database server inserts the call and
Redis keeps its moves, on the same cores the web processes need. A meter snapshots the CPU
time (user and system) of every process in each group before and after a measured phase:

    meter = CpuMeter({"web": tree_of(server.pid), "postgresql": named("postgres")})
    meter.start()
    ...                         # the load
    used = meter.stop()         # {"web": seconds, "postgresql": seconds}

A process that started during the phase counts all its CPU time; one that ended during it
is not counted (its time is gone with it). A group chosen by name (every `postgres` on the
machine) also counts other people's work on the same server: note the machine's load.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import psutil

# The processes a group holds at the moment it is asked.
Finder = Callable[[], Iterable[psutil.Process]]


def _cpu_seconds(process: psutil.Process) -> float | None:
    """User plus system seconds of one process (None once it has gone or cannot be read)."""
    try:
        times = process.cpu_times()
    except psutil.Error:  # gone, a zombie, or not ours to read
        return None
    return times.user + times.system


def tree_of(pid: int, *, without: Iterable[str] = ()) -> Finder:
    """The process pid and all its descendants, except those whose name is in `without`."""
    left_out = set(without)

    def find() -> list[psutil.Process]:
        try:
            root = psutil.Process(pid)
            everyone = [root, *root.children(recursive=True)]
        except psutil.Error:  # gone, a zombie, or not ours to read
            return []
        return [process for process in everyone if _name(process) not in left_out]

    return find


def named(*names: str) -> Finder:
    """Every process on the machine with one of these names (e.g. every `postgres`)."""
    wanted = set(names)
    return lambda: [process for process in psutil.process_iter() if _name(process) in wanted]


def this_process() -> Finder:
    """This process (a load generator's own share)."""
    return lambda: [psutil.Process(os.getpid())]


def _name(process: psutil.Process) -> str | None:
    try:
        return process.name()
    except psutil.Error:  # gone, a zombie, or not ours to read
        return None


def _snapshot(finder: Finder) -> dict[psutil.Process, float]:
    # Keyed by the process itself: psutil tells two processes apart by pid and start time
    # (a pid reused during the phase is another process), and a step of the wall clock
    # does not change that identity, as it would a key built on create_time().
    taken = {}
    for process in finder():
        seconds = _cpu_seconds(process)
        if seconds is not None:
            taken[process] = seconds
    return taken


class CpuMeter:
    """CPU seconds each named group of processes used between start() and stop()."""

    def __init__(self, groups: dict[str, Finder]) -> None:
        self.groups = groups
        self._before: dict[str, dict[psutil.Process, float]] = {}

    def start(self) -> None:
        """Note every group's CPU time now."""
        self._before = {name: _snapshot(finder) for name, finder in self.groups.items()}

    def stop(self) -> dict[str, float]:
        """Seconds each group used since start()."""
        used = {}
        for name, finder in self.groups.items():
            before = self._before.get(name, {})
            now = _snapshot(finder)
            used[name] = round(sum(seconds - before.get(process, 0.0)
                                   for process, seconds in now.items()), 3)
        return used
