"""The benchmarks' smallest runs, end to end, so their code keeps working (no timing asserted)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run_bench(name: str, tmp_path: Path, redis_url: str) -> tuple[subprocess.CompletedProcess,
                                                                      dict]:
    output = tmp_path / f"{name}.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / name / "run.py"), "--quick",
         "--database-url", f"sqlite:///{tmp_path / 'bench.db'}", "--redis-url", redis_url,
         "--output", str(output)],
        capture_output=True, text=True, timeout=240, cwd=ROOT,
    )
    results = json.loads(output.read_text()) if output.exists() else {}
    return completed, results


@pytest.mark.slow
def test_the_caller_load_bench_drives_both_apps_and_finds_no_errors_and_no_overbooking(
        tmp_path, redis_url):
    completed, results = _run_bench("callers", tmp_path, redis_url)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (point,) = results["points"]
    (ceiling,) = results["ceiling_points"]
    assert point["callers"] == 10 and point["requests_all"] > 0 and point["errors"] == 0
    assert "/voice/incoming" in point["endpoints"] or results["saturation"]["madoguchi"][
        "endpoints"]["/voice/incoming"]["count"] > 0
    assert ceiling["errors"] == 0 and ceiling["requests_all"] > 0
    assert results["bookings"]["overbooked_places"] == 0
    assert results["bookings"]["counter_discrepancies"] == 0
    assert results["throughput_ratio_to_ceiling"] is not None


@pytest.mark.slow
def test_the_dispatch_bench_dials_every_callback_of_both_backlogs_and_reports_the_rate(
        tmp_path, redis_url):
    completed, results = _run_bench("dispatch", tmp_path, redis_url)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert results["latency"]["samples"] == 3 and results["latency"]["missed"] == 0
    rate, binding = results["rate"], results["rate_at_one_per_second"]
    assert rate["dialled"] == rate["assigned"] == rate["backlog"] == 10
    assert binding["dialled"] == binding["backlog"] == 3 and binding["cps_limit"] == 1
    assert rate["max_dials_in_any_second"] >= 1 and isinstance(rate["cps_exceeded"], bool)


@pytest.mark.slow
def test_the_sealing_bench_finds_every_resident_it_looks_for_and_prices_a_booking(
        tmp_path, redis_url):
    completed, results = _run_bench("sealing", tmp_path, redis_url)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (sqlite,) = results["backends"]
    assert sqlite["backend"] == "sqlite" and sqlite["loaded"]["residents"] == 1500
    for kind in ("phone", "name_prefix", "resident_no"):
        assert sqlite["search"][kind]["missed"] == 0 and sqlite["search"][kind]["count"] == 22
        assert sqlite["search"][kind]["p99_ms"] > 0
    booking = sqlite["booking"]
    assert booking["sealed"]["count"] == booking["baseline"]["count"] == 30
    assert booking["sealed_over_baseline"] > 0


@pytest.mark.slow
def test_the_reports_bench_opens_every_console_page_and_compares_it_with_the_ceiling(
        tmp_path, redis_url):
    completed, results = _run_bench("reports", tmp_path, redis_url)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    timed = results["pages"]
    assert results["loaded"]["calls"] == 3000 and results["loaded"]["inquiries"] == 400
    assert timed["ceiling: my settings"]["p99_over_ceiling"] == 1.0
    for name in ("ledger, whole campaign", "inquiry analytics, a year per week",
                 "resident record", "work screen", "audit log (admin)", "FAQ list"):
        assert timed[name]["repeats"] == 3 and timed[name]["p99_ms"] > 0, name
    assert results["uptime_before"] and results["exports"]["calls export, a month"]["rows"] > 0


@pytest.mark.slow
def test_the_booking_bench_fills_every_slot_exactly_from_several_processes_and_its_ceiling(
        tmp_path, redis_url):
    completed, results = _run_bench("booking", tmp_path, redis_url)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (sqlite,) = results["backends"]
    assert sqlite["backend"] == "sqlite" and sqlite["processes"] == 2
    hot, spread = sqlite["hot_slot"], sqlite["spread"]
    assert hot["trials"] == 2 and hot["overbooked"] == 0 and hot["unexpected"] == 0
    assert spread["booked"] == spread["bookers"] == 100
    assert spread["overbooked"] == 0 and spread["unexpected"] == 0 and spread["reconciled"]
    assert spread["ceiling"]["unexpected"] == 0 and spread["ratio_to_ceiling"] > 0


@pytest.mark.slow
def test_the_webhooks_bench_measures_both_webhooks_beside_the_ceiling_in_process_and_over_http(
        tmp_path, redis_url):
    completed, results = _run_bench("webhooks", tmp_path, redis_url)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (in_process,) = results["in_process"]
    assert in_process["backend"] == "sqlite"
    for app in ("madoguchi", "ceiling"):
        for name in ("incoming", "menu"):
            assert in_process[app][name]["cpu"]["count"] > 0
    (http,) = results["http"]
    for app in ("madoguchi", "ceiling"):
        assert http["apps"][app]["errors"] == 0
        for name in ("incoming", "menu"):
            side = http["apps"][app][name]
            assert side["requests"] > 0
            # Where each answer's CPU time went: the web processes did the work.
            assert set(side["cpu_ms_per_request"]) == {"web", "postgresql", "redis",
                                                       "load generator"}
            assert side["cpu_ms_per_request"]["web"] > 0
        assert isinstance(http["apps"][app]["menu"]["answers_without_their_own_greeting"], int)
    assert set(http["ratio_to_ceiling"]) == {"incoming", "menu"}


@pytest.mark.slow
def test_the_parts_bench_times_each_part_of_both_webhooks_and_counts_their_sleeps(tmp_path):
    output = tmp_path / "parts.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "webhooks" / "parts.py"), "--backend", "sqlite",
         "--calls", "20", "--output", str(output)],
        capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    points = {point["webhook"]: point for point in json.loads(output.read_text())["points"]}
    greeting, answer = points["incoming"]["madoguchi"], points["menu"]["madoguchi"]
    assert "greeting: the call's insert" in greeting["parts_us_per_request"]
    assert "menu answer: the move to Redis" in answer["parts_us_per_request"]
    assert "greeting: the call's insert" not in answer["parts_us_per_request"]  # not measured
    for point in points.values():
        whole = point["madoguchi"]["cpu_us_per_request"]
        assert 0 < point["madoguchi"]["parts_us_per_request"]["the view"] < whole
        assert point["ceiling"]["cpu_us_per_request"] > 0


_CALLGRIND_HEADER = Path("/usr/include/valgrind/callgrind.h")


@pytest.mark.slow
@pytest.mark.skipif(not _CALLGRIND_HEADER.exists() or shutil.which("cc") is None,
                    reason="the instruction count's helper needs valgrind's headers and cc")
def test_the_instruction_count_measures_answered_webhooks_between_its_switches(tmp_path):
    # Outside valgrind the helper's client requests do nothing, so the child's measured part
    # runs as under callgrind, quickly: a menu answer after its greeting, answered 200.
    from bench.webhooks import instructions

    helper = instructions.build_helper(tmp_path)
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "webhooks" / "instructions.py"), "--child",
         "--helper", str(helper), "--backend", "sqlite", "--webhook", "menu",
         "--app", "madoguchi", "--requests", "3"],
        capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]


def test_the_instruction_count_says_what_to_install_when_valgrind_is_missing(
        tmp_path, monkeypatch):
    from bench.webhooks import instructions

    monkeypatch.setattr(instructions.shutil, "which", lambda _name: None)
    with pytest.raises(instructions.InstructionsUnavailable, match="apt-get install valgrind"):
        instructions.build_helper(tmp_path)


def test_the_wait_bench_runs_with_tiny_parameters_and_writes_only_where_it_is_told(tmp_path):
    curated = (ROOT / "bench" / "waits" / "results.json").read_bytes()
    output = tmp_path / "waits" / "results.json"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "waits" / "run.py"), "--callers", "100",
         "--mornings", "1", "--output", str(output)],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    # 1 only says that so few callers do not reproduce Erlang C; a crash is anything else.
    assert completed.returncode in (0, 1), completed.stderr[-3000:]
    assert "Traceback" not in completed.stderr
    results = json.loads(output.read_text())
    assert results["params"]["callers_per_steady_scenario"] == 100
    assert len(results["scenarios"]) == 20
    quiet = [s for s in results["scenarios"] if not s["served"]["callers"]]
    assert quiet, "tiny runs leave some lines where nobody waited: the case that used to crash"
    assert "no waits" in completed.stdout
    assert (ROOT / "bench" / "waits" / "results.json").read_bytes() == curated
