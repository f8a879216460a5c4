"""The bench's CPU meter counts what each group of processes used during a phase, and only that."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest

from bench.cpu_use import CpuMeter, named, this_process, tree_of

TICK = 1 / os.sysconf("SC_CLK_TCK")

# Burns 0.4 s of its own CPU, then stays (so the meter can read it) until killed.
BUSY = ("import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"
        "time.sleep(60)\n")


def _spawn(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, text=True)


def _chain(busy_after_go: bool) -> str:
    """A process that starts a child, which starts the busy grandchild: at once, or on "go"."""
    grandchild = f"subprocess.run([sys.executable, '-c', {BUSY!r}])"
    child = ("import subprocess, sys\n"
             + ("sys.stdin.readline()\n" if busy_after_go else "")
             + grandchild + "\n")
    return (f"import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', {child!r}], stdin=sys.stdin)\n"
            f"time.sleep(60)\n")


def _kill_tree(root: subprocess.Popen) -> None:
    for process in tree_of(root.pid)():
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    root.wait()
    root.stdin.close()


def _busy_grandchild_found(root: subprocess.Popen) -> bool:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(list(tree_of(root.pid)())) == 3:
            return True
        time.sleep(0.05)
    return False


def test_a_busy_grandchild_counts_in_its_grandparents_tree_and_not_in_another_group():
    root = _spawn(_chain(busy_after_go=True))
    try:
        meter = CpuMeter({"tree": tree_of(root.pid), "nobody": named("no-such-process-name")})
        meter.start()
        root.stdin.write("go\n")  # the work starts only once the meter has its snapshot
        root.stdin.flush()
        assert _busy_grandchild_found(root)
        deadline = time.monotonic() + 30
        used = meter.stop()
        while used["tree"] < 0.4 and time.monotonic() < deadline:
            time.sleep(0.05)
            used = meter.stop()
        assert 0.4 <= used["tree"] < 1.0  # the burn, and the small start-up of two processes
        assert used["nobody"] == 0
    finally:
        _kill_tree(root)


@pytest.fixture
def three_generations() -> Iterator[subprocess.Popen]:
    """A process, its child and its busy grandchild, all running; killed afterwards."""
    root = _spawn(_chain(busy_after_go=False))
    try:
        assert _busy_grandchild_found(root)
        yield root
    finally:
        _kill_tree(root)


def test_cpu_used_before_the_phase_is_not_counted(three_generations):
    (child,) = psutil.Process(three_generations.pid).children()
    (busy,) = child.children()
    deadline = time.monotonic() + 30
    while sum(busy.cpu_times()[:2]) < 0.4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(busy.cpu_times()[:2]) >= 0.4  # the burn is over: the tree only sleeps now
    meter = CpuMeter({"tree": tree_of(three_generations.pid)})
    meter.start()
    time.sleep(0.2)
    assert meter.stop()["tree"] < 0.1


def test_a_tree_leaves_out_the_processes_named_and_keeps_the_others(three_generations):
    root = three_generations.pid
    name = psutil.Process(root).name()
    assert list(tree_of(root, without=(name,))()) == []
    assert len(list(tree_of(root, without=("no-such-process-name",))())) == 3


def test_this_process_counts_its_own_work_and_not_what_it_did_before():
    meter = CpuMeter({"me": this_process()})
    meter.start()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    # This test process has used far more than a second before the phase. The kernel counts a
    # process's user and system time in clock ticks (1/100 s each), so a phase read from two
    # snapshots can come out up to two ticks short of the 0.2 s burnt.
    assert 0.2 - 2 * TICK <= meter.stop()["me"] < 0.6
