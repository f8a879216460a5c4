"""Callback dispatch benchmark: operator free → dial request, and the dial rate under a backlog.

Usage:  python bench/dispatch/run.py [--samples 40] [--backlog 1000] [--cps 10] [--quick]

On a fresh PostgreSQL schema and a clean Redis database, with one real `madoguchi worker`:

1. Latency: a callback waits; an operator becomes available through the line's own service
   (call_queue.line_services.operator_available, what the console calls); the time until the
   worker's dial request reaches the telephony seam (the simulated network records the call
   the moment place_call is made), --samples times; p50/p99/max.
2. Rate: --backlog callbacks wait and as many operators come free at once; every dial goes
   through the shared outbound pacer (call_queue.pacing) at --cps calls a second. From the
   dial timestamps: the achieved rate, the most dials in any one-second window (must not exceed
   --cps) and the smallest gap between two dials.
3. The same with --binding-backlog callbacks at Twilio's default of 1 call a second, where the
   limit (not the worker) sets the pace.

Prints a table and writes bench/dispatch/runs/<time>/results.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from redis import Redis  # noqa: E402
from sqlalchemy import func, insert, select, update  # noqa: E402
from sqlalchemy.orm import sessionmaker  # noqa: E402

from bench._results import percentile, write_record  # noqa: E402
from bench.stack import (  # noqa: E402
    Stack,
    add_stack_options,
    check_bench_database,
    clean_redis,
    reset_database,
)


def dial_times(network, numbers: set[str] | None = None) -> list[float]:
    """When each outbound call (to these numbers, if given) reached the seam, in order."""
    return sorted(call.created_at for call in network.ringing_calls()
                  if numbers is None or call.to_number in numbers)


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most timestamps in any half-open window [t, t + window)."""
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


def add_operators(session, count: int, prefix: str) -> list[int]:
    """Operators in the database (offline until the service says otherwise)."""
    from madoguchi.models import Operator

    rows = [{"username": f"{prefix}{i}", "display_name": f"オペレーター{i}",
             "password_hash": "bench-no-login", "role": "operator"} for i in range(count)]
    ids = list(session.scalars(insert(Operator).returning(Operator.id), rows))
    session.commit()
    return ids


def callback_numbers(count: int, start: int) -> list[str]:
    """The numbers of the callbacks add_callbacks(count, start) adds."""
    return [f"+8190{start + i:08d}" for i in range(count)]


def add_callbacks(session, count: int, start: int) -> None:
    """Callback requests waiting in line, oldest first (numbers never dialled for real)."""
    from madoguchi.models import CallbackRequest, utcnow
    from madoguchi.sealing.orm import with_digests

    arrived = utcnow() - timedelta(minutes=5)
    session.execute(insert(CallbackRequest), with_digests(CallbackRequest, [
        {"phone_e164": number, "arrival_at": arrived + timedelta(seconds=i),
         "language": "ja", "status": "waiting", "attempts": 0}
        for i, number in enumerate(callback_numbers(count, start))]))
    session.commit()


def wait_for_dials(network, count: int, timeout: float, poll: float = 0.005,
                   numbers: set[str] | None = None) -> list[float]:
    """Wait for `count` dials (to these numbers, if given) or the timeout; their times."""
    from madoguchi.telephony.network import PREFIX

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # The list's length first: reading every ringing call is many round trips, on the
        # machine whose dial rate is being measured.
        if network.redis.llen(f"{PREFIX}ringing") >= count and (
                numbers is None or len(dial_times(network, numbers)) >= count):
            break
        time.sleep(poll)
    return dial_times(network, numbers)


def measure_latency(app, factory, network, samples: int, cps: float) -> dict:
    """Operator free → dial at the seam, one callback at a time."""
    from call_queue import line_services, operator_states
    from madoguchi.models import utcnow
    from madoguchi.telephony.network import PREFIX

    latencies, in_service, missed = [], [], 0
    with app.app_context(), factory() as session:
        (operator_id,) = add_operators(session, 1, "latency")
        for index in range(samples):
            add_callbacks(session, 1, start=index)
            before = network.redis.llen(f"{PREFIX}ringing")
            time.sleep(max(1.0 / cps, 0.05) + 0.05)  # the pacer's previous slot has passed
            freed_at = time.time()
            line_services.operator_available(session, operator_id)
            in_service.append(time.time() - freed_at)
            times = wait_for_dials(network, before + 1, timeout=30)
            if len(times) <= before:
                missed += 1
            else:
                latencies.append(times[-1] - freed_at)
            # The operator is on that callback now; put them back on a call for the next one.
            operator_states.set_state(session, line_services.board(), operator_id, "on_call",
                                      utcnow())
    return {
        "samples": samples, "missed": missed,
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies, default=0.0) * 1000, 1),
        # Of which: the service call itself (state saved, dispatch, job enqueued); the rest is
        # the worker taking the job, forking its work horse and dialling.
        "service_p50_ms": round(percentile(in_service, 0.5) * 1000, 1),
        "service_p99_ms": round(percentile(in_service, 0.99) * 1000, 1),
    }


def free_operators_at_once(session, board, operator_ids: list[int]) -> None:
    """Many operators come free at the same moment (a shift starts): database, then board."""
    from madoguchi.models import Operator, utcnow

    now = utcnow()
    session.execute(update(Operator).where(Operator.id.in_(operator_ids))
                    .values(state="available", state_since=now, state_until=None))
    session.commit()
    for operator_id in operator_ids:
        board.set_state(operator_id, "available", now)


def measure_rate(app, factory, network, backlog: int, cps: float, timeout: float,
                 numbers_from: int) -> dict:
    """A backlog of callbacks and as many free operators: dials paced at cps."""
    from call_queue import line_services
    from madoguchi.models import CallbackRequest

    # Only dials to this backlog's numbers count: a callback of the latency samples that
    # rang out unanswered meanwhile is rightly dialled again, but not by this measure.
    numbers = set(callback_numbers(backlog, numbers_from))
    with app.app_context(), factory() as session:
        add_callbacks(session, backlog, start=numbers_from)
        operator_ids = add_operators(session, backlog, f"rate{numbers_from}-")
        started = time.time()
        free_operators_at_once(session, line_services.board(), operator_ids)
        while line_services.dispatch(session):
            pass  # each run assigns at most MAX_ASSIGNMENTS_PER_RUN; the sweep may help
        enqueued_in = time.time() - started
        waiting = session.scalar(select(func.count(CallbackRequest.id))
                                 .where(CallbackRequest.status == "waiting"))
        session.commit()
    times = wait_for_dials(network, backlog, timeout=timeout, poll=0.5, numbers=numbers)
    gaps = [b - a for a, b in pairwise(times)]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "backlog": backlog, "cps_limit": cps, "assigned": backlog - waiting,
        "dialled": len(times), "dispatch_seconds": round(enqueued_in, 2),
        "first_dial_after_seconds": round(times[0] - started, 2) if times else None,
        "dial_span_seconds": round(span, 1),
        "achieved_dials_per_second": round((len(times) - 1) / span, 2) if span else None,
        "max_dials_in_any_second": max_in_window(times),
        "min_gap_ms": round(min(gaps) * 1000, 1) if gaps else None,
        "cps_exceeded": max_in_window(times) > cps,
    }


def _print_rate(rate: dict) -> None:
    print(f"backlog {rate['backlog']} at ≤ {rate['cps_limit']:g}/s: {rate['dialled']} dialled "
          f"in {rate['dial_span_seconds']} s = {rate['achieved_dials_per_second']}/s; most in "
          f"one second {rate['max_dials_in_any_second']}, smallest gap "
          f"{rate['min_gap_ms']} ms; exceeded: {rate['cps_exceeded']}", flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=40, help="latency samples")
    parser.add_argument("--backlog", type=int, default=1000, help="callbacks waiting at once")
    parser.add_argument("--cps", type=float, default=10,
                        help="outbound calls per second allowed (Twilio's default is 1)")
    parser.add_argument("--binding-backlog", type=int, default=60,
                        help="callbacks for the second rate run at Twilio's default of 1/s")
    add_stack_options(parser)
    parser.add_argument("--quick", action="store_true",
                        help="smallest run: 3 samples, a backlog of 10 (checks the bench)")
    args = parser.parse_args(argv)
    if args.quick:
        args.samples, args.backlog, args.binding_backlog = 3, 10, 3
    return args


def run(args: argparse.Namespace) -> dict:
    """Set up the stack and a worker, measure latency then rate, tear down."""
    from madoguchi import create_app
    from madoguchi.db import make_engine
    from madoguchi.telephony.network import SimulatedNetwork

    check_bench_database(args.database_url)
    stack = Stack(args.database_url, args.redis_url,
                  config_overrides={"outbound_calls_per_second": repr(args.cps)})
    settings = stack.settings()
    engine = make_engine(settings.secrets.database_url)
    reset_database(engine)
    clean_redis(args.redis_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    app = create_app(settings)
    redis = Redis.from_url(args.redis_url)
    network = SimulatedNetwork(redis)
    try:
        stack.worker()
        time.sleep(2)  # the worker registers and starts listening
        latency = measure_latency(app, factory, network, args.samples, args.cps)
        print(f"operator free → dial at the seam: p50 {latency['p50_ms']} ms, "
              f"p99 {latency['p99_ms']} ms, max {latency['max_ms']} ms "
              f"({latency['samples']} samples, {latency['missed']} missed; the service call "
              f"itself p50 {latency['service_p50_ms']} ms)", flush=True)
        rate = measure_rate(app, factory, network, args.backlog, args.cps,
                            timeout=args.backlog / args.cps * 3 + 60, numbers_from=10**6)
        _print_rate(rate)
        # Again where the limit binds: Twilio's default of one call a second, a new worker.
        stack.stop()
        stack.config_overrides["outbound_calls_per_second"] = "1"
        stack.worker()
        binding = measure_rate(app, factory, network, args.binding_backlog, 1.0,
                               timeout=args.binding_backlog * 3 + 60, numbers_from=2 * 10**6)
        _print_rate(binding)
    finally:
        stack.stop()
        engine.dispose()
        redis.close()
    return {"latency": latency, "rate": rate, "rate_at_one_per_second": binding}


def main(argv: list[str] | None = None) -> int:
    """Run, print, write results.json; 1 if dials went missing (an exceeded limit is printed)."""
    args = parse_args(argv)
    results = run(args)
    write_record("dispatch", args, results)
    rates = (results["rate"], results["rate_at_one_per_second"])
    for rate in rates:
        if rate["cps_exceeded"]:
            print(f"CPS LIMIT EXCEEDED at the seam: {rate['max_dials_in_any_second']} dials within "
                  f"one second at a limit of {rate['cps_limit']:g}/s")
    return 1 if any(rate["dialled"] < rate["backlog"] for rate in rates) else 0


if __name__ == "__main__":
    sys.exit(main())
