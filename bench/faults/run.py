"""Worker crash loop: callbacks placed while the worker is SIGKILLed again and again.

Usage:  python bench/faults/run.py [--callbacks 20] [--kills 10] [--database-url sqlite:///…]

A private redis-server (never the shared one) and a SQLite file in a temporary folder, or a
PostgreSQL database whose name contains "bench". --callbacks callback requests wait and as many
operators come free, so every request gets a callback job at once; the outbound pacer lets one
call start a second, so jobs spend most of their time between committing their attempt and
dialling. A `madoguchi worker` is started and, a random 0–1.5 s after its first work horse
appears, killed with SIGKILL together with that horse (a process group of its own), --kills
times. Then one worker runs
undisturbed until every request has been called or two minutes have passed.

Counts from the simulated network's ledger: requests called exactly once, called more than once
(duplicated), never called (lost), those called within two minutes of the last kill, and the
time from the last kill to the last call. Also whether the repeating jobs (sweep, reminders,
hold release) are in place after the restarts. Prints a table and writes
bench/faults/runs/<time>/results.json (or --output).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from redis import Redis  # noqa: E402

from bench._results import output_file  # noqa: E402
from bench.stack import Stack, check_bench_database, free_port, reset_database  # noqa: E402

LIVE_STATUSES = ("queued", "scheduled", "started", "deferred")
PLACED_WITHIN_SECONDS = 120


def start_redis(folder: Path) -> tuple[subprocess.Popen, str]:
    """A private redis-server without persistence on a free loopback port."""
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return process, f"redis://127.0.0.1:{port}/0"
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("redis-server did not start")


def children_of(pid: int) -> list[int]:
    """The child processes of a process (empty once it is gone)."""
    try:
        return [int(child) for child in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def horses_of(process: subprocess.Popen) -> list[int]:
    """The worker's work horses: children in a process group of their own (not RQ's scheduler)."""
    horses = []
    for pid in children_of(process.pid):
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(pid) != process.pid:
                horses.append(pid)
    return horses


def kill_worker(process: subprocess.Popen) -> int:
    """SIGKILL a worker's process group and its work horse; returns how many horses died."""
    children = children_of(process.pid)
    horses = horses_of(process)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
    return len(horses)


def placed_calls(network) -> list:
    """Every outbound call the simulated network was asked to place, oldest first."""
    calls = []
    for key in network.redis.scan_iter("madoguchi:sim:call:*"):
        call = network.get_call(key.decode().rsplit(":", 1)[1])
        if call is not None and call.direction == "outbound-api":
            calls.append(call)
    return sorted(calls, key=lambda call: call.created_at)


def seed_and_dispatch(stack: Stack, callbacks: int) -> list[str]:
    """Waiting callback requests, as many free operators, dispatched; returns the numbers."""
    from call_queue import line_services
    from madoguchi import create_app
    from madoguchi.db import session_scope
    from madoguchi.models import CallbackRequest, Operator, utcnow

    app = create_app(stack.settings())
    numbers = [f"+8190{5000_0000 + n:08d}" for n in range(callbacks)]
    with app.app_context(), session_scope(app.extensions["madoguchi_db"]) as session:
        now = utcnow()
        for n, number in enumerate(numbers):
            session.add(CallbackRequest(phone_e164=number, arrival_at=now, language="ja",
                                        status="waiting", attempts=0, created_at=now))
            session.add(Operator(username=f"bench{n}", display_name=f"ベンチ{n}",
                                 password_hash="not-a-real-hash", role="operator"))
        session.commit()
        operator_ids = [operator.id for operator in session.query(Operator).all()]
        for operator_id in operator_ids:
            line_services.operator_available(session, operator_id, now)
    return numbers


def describe(stack: Stack, lost: list[str], connection: Redis) -> list[dict]:
    """Where each lost request stands: its status, attempts and callback jobs."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job
    from sqlalchemy import select

    from call_queue.job_scheduling import callback_job_id
    from madoguchi.db import make_engine
    from madoguchi.models import CallbackAttempt, CallbackRequest
    from madoguchi.sealing import blind

    stack.settings()  # the stack's keys, to find the numbers by their digests
    engine = make_engine(stack.database_url)
    found = []
    with engine.connect() as conn:
        for number in lost:
            request = conn.execute(select(CallbackRequest).where(
                blind.matches(CallbackRequest.phone_digest, "phone", number))).one()
            attempts = conn.execute(select(CallbackAttempt.attempt_no, CallbackAttempt.status,
                                           CallbackAttempt.started_at, CallbackAttempt.call_sid)
                                    .where(CallbackAttempt.request_id == request.id)).all()
            job_states = {}
            for attempt_no in range(1, request.attempts + 1):
                job_id = callback_job_id(request.id, attempt_no)
                try:
                    job = Job.fetch(job_id, connection=connection)
                    job_states[job_id] = f"{job.get_status()} beat {job.last_heartbeat}"
                except NoSuchJobError:
                    job_states[job_id] = "missing"
            found.append({"status": request.status, "attempts": request.attempts,
                          "next_attempt_at": str(request.next_attempt_at),
                          "attempt_rows": [tuple(str(v) for v in row) for row in attempts],
                          "jobs": job_states})
    engine.dispose()
    return found


def run(args: argparse.Namespace) -> dict:
    """The whole loop; returns the results."""
    workdir = Path(tempfile.mkdtemp(prefix="madoguchi-faults-bench-"))
    redis_process, redis_url = start_redis(workdir)
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    check_bench_database(database_url)
    stack = Stack(database_url, redis_url, workdir=workdir,
                  config_overrides={"outbound_calls_per_second": "1"})
    try:
        from madoguchi.db import make_engine

        engine = make_engine(database_url)
        reset_database(engine)
        engine.dispose()
        numbers = seed_and_dispatch(stack, args.callbacks)
        from madoguchi.telephony.network import SimulatedNetwork

        network = SimulatedNetwork(Redis.from_url(redis_url))
        started = time.time()
        rng = random.Random(args.seed)
        horses_killed = 0
        kill_moments: list[float] = []
        for _ in range(args.kills):
            worker = stack.worker()
            waited = time.time()
            while not horses_of(worker) and time.time() - waited < 15:
                time.sleep(0.05)
            # Somewhere inside a job: committing the attempt, waiting to pace, dialling.
            time.sleep(rng.uniform(0.0, 1.5))
            horses_killed += kill_worker(worker)
            kill_moments.append(time.time())
            stack.processes.remove(worker)
        kills_ended = time.time()
        final = stack.worker()
        deadline = kills_ended + PLACED_WITHIN_SECONDS + 30
        while time.time() < deadline:
            called = {call.to_number for call in placed_calls(network)}
            if called >= set(numbers):
                break
            time.sleep(1)
        time.sleep(5)  # a late duplicate would show now
        calls = placed_calls(network)
        per_number = Counter(call.to_number for call in calls)
        first_call = {}
        for call in calls:
            first_call.setdefault(call.to_number, call.created_at)
        delays = [first_call[n] - started for n in numbers if n in first_call]
        connection = Redis.from_url(redis_url)
        from rq.job import Job

        from call_queue.callback_jobs import REMINDERS, SWEEP
        from madoguchi.maintenance import HOLD_RELEASE

        repeating = {}
        for job_id in (SWEEP.job_id, REMINDERS.job_id, HOLD_RELEASE.job_id):
            try:
                repeating[job_id] = str(Job.fetch(job_id, connection=connection).get_status())
            except Exception:
                repeating[job_id] = "missing"
        lost = [n for n in numbers if per_number[n] == 0]
        duplicated = [n for n in numbers if per_number[n] > 1]
        stack.stop(final)
        return {
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version()},
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "parameters": {"callbacks": args.callbacks, "kills": args.kills,
                           "seed": args.seed, "database": database_url.split(":", 1)[0],
                           "outbound_calls_per_second": 1},
            "horses_killed_mid_job": horses_killed,
            "kill_phase_seconds": round(kills_ended - started, 1),
            "placed_once": sum(1 for n in numbers if per_number[n] == 1),
            "duplicated": sum(1 for n in numbers if per_number[n] > 1),
            "lost": sum(1 for n in numbers if per_number[n] == 0),
            "placed_within_two_minutes_of_the_last_kill": sum(
                1 for n in numbers
                if n in first_call and first_call[n] - kills_ended <= PLACED_WITHIN_SECONDS),
            "longest_seconds_to_call": round(max(delays), 1) if delays else None,
            "last_call_seconds_after_last_kill": (
                round(max(first_call.values()) - kills_ended, 1) if first_call else None),
            "repeating_jobs_after_restarts": repeating,
            "lost_requests": describe(stack, lost, connection),
            "duplicated_requests": describe(stack, duplicated, connection),
            "kill_seconds": [round(moment - started, 1) for moment in kill_moments],
            "call_seconds": sorted(round(call.created_at - started, 1) for call in calls),
        }
    finally:
        for process in list(stack.processes):
            kill_worker(process)
        redis_process.kill()
        redis_process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    """Parse the options, run the loop, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callbacks", type=int, default=20)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL database whose name contains 'bench' (default: SQLite)")
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default: a new runs/<time>/results.json)")
    args = parser.parse_args()
    results = run(args)
    for key, value in results.items():
        if key not in ("machine", "when"):
            print(f"{key:32} {value}")
    output = output_file("faults", args.output)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"written {output}")


if __name__ == "__main__":
    main()
