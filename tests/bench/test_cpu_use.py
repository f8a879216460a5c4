"""The bench's CPU meter counts what each group of processes used during a phase, and only that."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.cpu_use import CpuMeter, named, this_process, tree_of

BUSY = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\n"


def test_a_busy_grandchild_counts_in_its_grandparents_tree_and_not_in_another_group():
    parent = subprocess.Popen([sys.executable, "-c",
                               f"import subprocess, sys\n"
                               f"sys.stdin.readline()\n"
                               f"subprocess.run([sys.executable, '-c', {BUSY!r}])\n"
                               f"import time; time.sleep(30)\n"],
                              stdin=subprocess.PIPE, text=True)
    try:
        meter = CpuMeter({"tree": tree_of(parent.pid), "nobody": named("no-such-process-name")})
        meter.start()
        parent.stdin.write("go\n")  # the work starts only once the meter has its snapshot
        parent.stdin.flush()
        deadline = time.monotonic() + 20
        used = meter.stop()
        # The grandchild burns 0.4 s of CPU and exits; the meter reads it while it lives.
        while used["tree"] < 0.2 and time.monotonic() < deadline:
            time.sleep(0.05)
            used = meter.stop()
        assert used["tree"] >= 0.2
        assert used["nobody"] == 0
    finally:
        parent.kill()
        parent.wait()
        parent.stdin.close()


def test_a_tree_holds_the_process_and_its_children_but_not_those_left_out_by_name():
    parent = subprocess.Popen([sys.executable, "-c",
                               "import subprocess, sys, time\n"
                               "subprocess.Popen([sys.executable, '-c', 'import time; "
                               "time.sleep(30)'])\n"
                               "time.sleep(30)\n"])
    try:
        deadline = time.monotonic() + 20
        while len(list(tree_of(parent.pid)())) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        everyone = list(tree_of(parent.pid)())
        assert parent.pid in {process.pid for process in everyone} and len(everyone) == 2
        name = everyone[0].name()
        assert list(tree_of(parent.pid, without=(name,))()) == []
    finally:
        for process in tree_of(parent.pid)():
            process.kill()
        parent.wait()


def test_this_process_counts_its_own_work():
    meter = CpuMeter({"me": this_process()})
    meter.start()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    assert meter.stop()["me"] >= 0.15
