"""Where a webhook's CPU goes, part by part, and how often it sleeps on a round trip.

Usage:  python bench/webhooks/parts.py [--calls 2000] [--backend sqlite,postgresql]
        [--database-url postgresql://…/madoguchi_webhooks_bench] [--redis-url …] [--output …]

Instruction counts (instructions.py) leave out what a round trip costs on a virtual machine:
the process sleeps on the socket, and a sleep and its wake-up cost CPU time (the kernel's
switch, caches gone cold) that no instruction of the app shows. This script sends the same
requests as run.py's in-process measure (Flask test client, a new CallSid each; a menu answer
after its own greeting, which is not measured) and times, in this process's CPU time, each
part of the measured request while it runs: Flask's handling around the
view, the signature check, the caller's number, the call's insert, the move's trip to Redis,
the TwiML. Parts nest (the insert is inside the greeting), so each is inclusive; "whole
request" includes the test client. It also counts the voluntary context switches per request
(getrusage): each is a sleep on a socket. The ceiling's CPU per request in the same run is
printed beside it.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from bench._results import output_file, write_record  # noqa: E402
from bench.stack import add_stack_options, backend_stack, check_bench_database, rebuild  # noqa: E402
from bench.webhooks import inprocess  # noqa: E402

WARM_UP = 200
# (label, module, attribute): a function, or Class.method, timed wherever it is called from.
PARTS = (
    ("Flask, with the view in it", "flask.app", "Flask.wsgi_app"),
    ("the view", "flask.app", "Flask.dispatch_request"),
    ("signature check (form parsed)", "madoguchi.voice.signature", "is_signed"),
    ("greeting: caller's number", "madoguchi.phone", "try_normalize"),
    ("greeting: the call's insert", "madoguchi.calls", "_run_alone"),
    ("menu answer: the answer", "ivr.flow", "CallFlow.answer"),
    ("menu answer: the move to Redis", "madoguchi.call_moves", "buffer"),
    ("the next question", "ivr.flow", "CallFlow.ask"),
    ("TwiML to text", "ivr.views", "_xml"),
)


class Timed:
    """CPU time and calls of one part, over the measured requests."""

    def __init__(self) -> None:
        self.cpu = 0.0
        self.calls = 0
        self.depth = 0


class Recording:
    """Whether the request running now is a measured one (a menu answer's greeting is not)."""

    on = False


def _timed(original: Callable, timed: Timed) -> Callable:
    def wrapper(*args, **kwargs):
        if not Recording.on:
            return original(*args, **kwargs)
        timed.depth += 1
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            timed.depth -= 1
            if timed.depth == 0:  # a part calling itself (ask → follow → ask) counts once
                timed.cpu += time.process_time() - started
                timed.calls += 1
    return wrapper


@contextmanager
def parts_timed() -> Iterator[dict[str, Timed]]:
    """Every part in PARTS wrapped with a timer while the block runs, then put back."""
    timers: dict[str, Timed] = {}
    undo = []
    for label, module_name, attribute in PARTS:
        owner = importlib.import_module(module_name)
        *classes, name = attribute.split(".")
        for class_name in classes:
            owner = getattr(owner, class_name)
        original = getattr(owner, name)
        timers[label] = Timed()
        setattr(owner, name, _timed(original, timers[label]))
        undo.append((owner, name, original))
    try:
        yield timers
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


def _measured_request(client, validator, base: str, webhook: str) -> tuple[float, int]:
    """A new call's greeting, or its menu answer after an unmeasured greeting: the measured
    request's CPU seconds and voluntary context switches."""
    sid = "CA" + secrets.token_hex(16)
    path = "/voice/incoming"
    form = inprocess.call_form(sid)
    if webhook == "menu":
        greeting = inprocess.signed_post(client, validator, base, path, form)
        path, form = inprocess.menu_path_after(greeting.data), inprocess.call_form(
            sid, Digits="1")
    switches, cpu = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw, time.process_time()
    Recording.on = True
    try:
        inprocess.signed_post(client, validator, base, path, form)
    finally:
        Recording.on = False
    cpu = time.process_time() - cpu
    return cpu, resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - switches


def measure(app, auth_token: str, base: str, webhook: str, calls: int,
            with_parts: bool) -> dict:
    """CPU per request, voluntary switches per request and (with_parts) CPU per part."""
    from twilio.request_validator import RequestValidator

    client = app.test_client()
    validator = RequestValidator(auth_token)
    for _ in range(WARM_UP):
        _measured_request(client, validator, base, webhook)
    cpu = 0.0
    switches = 0
    with parts_timed() if with_parts else _nothing() as timers:
        for _ in range(calls):
            request_cpu, request_switches = _measured_request(client, validator, base, webhook)
            cpu += request_cpu
            switches += request_switches
    result = {"cpu_us_per_request": round(cpu / calls * 1e6, 1),
              "sleeps_per_request": round(switches / calls, 2)}
    if timers:
        result["parts_us_per_request"] = {
            label: round(timed.cpu / calls * 1e6, 1) for label, timed in timers.items()
            if timed.calls}
    return result


@contextmanager
def _nothing() -> Iterator[dict[str, Timed]]:
    yield {}


def run(args: argparse.Namespace) -> list[dict]:
    """Both webhooks on every backend asked for, Madoguchi with its parts and the ceiling."""
    from bench.webhooks.run import ceiling_app, madoguchi_app

    points = []
    for backend in args.backends:
        with backend_stack(backend == "sqlite", args.database_url, args.redis_url,
                           "madoguchi-parts-") as stack:
            rebuild(stack)
            app, base = madoguchi_app(stack), stack.settings().secrets.public_base_url
            for webhook in ("incoming", "menu"):
                mine = measure(app, stack.auth_token, base, webhook, args.calls, True)
                ceiling = measure(ceiling_app(), stack.auth_token, base, webhook, args.calls,
                                  False)
                points.append({"backend": backend, "webhook": webhook, "madoguchi": mine,
                               "ceiling": ceiling})
                _print(points[-1])
    return points


def _print(point: dict) -> None:
    mine, ceiling = point["madoguchi"], point["ceiling"]
    scope = "/voice/incoming" if point["webhook"] == "incoming" else "menu answer"
    print(f"{point['backend']}, {scope}: {mine['cpu_us_per_request']:.0f} us CPU, "
          f"{mine['sleeps_per_request']} sleeps per request (ceiling "
          f"{ceiling['cpu_us_per_request']:.0f} us, {ceiling['sleeps_per_request']} sleeps)")
    for label, value in mine["parts_us_per_request"].items():
        print(f"  {label:34} {value:8.1f} us")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="measured calls per webhook")
    parser.add_argument("--backend", default="sqlite,postgresql",
                        help="sqlite, postgresql, or both (comma list)")
    add_stack_options(parser)
    args = parser.parse_args(argv)
    args.backends = [name.strip() for name in args.backend.split(",") if name.strip()]
    unknown = set(args.backends) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown backend {', '.join(sorted(unknown))}: use sqlite or postgresql")
    return args


def main(argv: list[str] | None = None) -> int:
    """Measure, print, and write the results to a run folder (or --output)."""
    args = parse_args(argv)
    if "postgresql" in args.backends:
        check_bench_database(args.database_url)
    # Beside the webhook bench's own runs: bench/webhooks/runs/<time>/results.json.
    args.output = output_file("webhooks", args.output)
    write_record("webhooks-parts", args, {"calls": args.calls, "points": run(args)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
