"""Instructions per webhook under callgrind: a cost that a shared, noisy machine cannot blur.

Usage:  python bench/webhooks/instructions.py [--requests 200] [--backend sqlite,postgresql]
        [--database-url postgresql://…/madoguchi_webhooks_bench] [--redis-url …] [--output …]

CPU time per request swings by a third between runs on a shared virtual machine; the number of
instructions the process executes does not. Each measurement runs one child process under
`valgrind --tool=callgrind` with instrumentation off, and switches it on (through callgrind's
client requests, from a small C helper built here with the system's C compiler) only around
the measured requests: Madoguchi's `/voice/incoming` with a new CallSid, and a menu answer
with the state its greeting handed out, each beside the ceiling app answering the same signed
requests. What happens in other processes (PostgreSQL, Redis) and in the kernel is not
counted: the figures are this process's own work, test client included, as for the ceiling.

Needs valgrind with its headers (Debian: `apt-get install valgrind`) and a C compiler.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from bench._results import output_file, write_record  # noqa: E402
from bench.stack import add_stack_options, check_bench_database  # noqa: E402

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/madoguchi_webhooks_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/7"
WARM_UP = 50

_HELPER_C = """
#include <valgrind/callgrind.h>
void measure_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void measure_stop(void) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT("measured"); }
"""


class InstructionsUnavailable(RuntimeError):
    """valgrind or a C compiler is missing; the message says what to install."""


def build_helper(folder: Path) -> Path:
    """The shared library whose two functions switch callgrind's counting on and off."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if shutil.which("valgrind") is None or compiler is None:
        raise InstructionsUnavailable(
            "counting instructions needs valgrind and a C compiler: apt-get install valgrind gcc")
    source, library = folder / "measure.c", folder / "libmeasure.so"
    source.write_text(_HELPER_C)
    built = subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(source)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        raise InstructionsUnavailable(f"the callgrind helper did not build (are valgrind's "
                                      f"headers installed?): {built.stderr.strip()[:300]}")
    return library


def count(helper: Path, backend: str, webhook: str, app: str, requests: int,
          args: argparse.Namespace) -> int:
    """Instructions the child executed for `requests` requests of one webhook of one app."""
    command = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               "--callgrind-out-file=/dev/null", sys.executable, __file__, "--child",
               "--helper", str(helper), "--backend", backend, "--webhook", webhook,
               "--app", app, "--requests", str(requests),
               "--database-url", args.database_url, "--redis-url", args.redis_url]
    ran = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parents[1])
    found = re.search(r"Collected\s*:\s*(\d+)", ran.stderr)
    if ran.returncode != 0 or found is None:
        raise RuntimeError(f"the measured child failed ({backend} {webhook} {app}):\n"
                           f"{ran.stderr[-1500:]}")
    return int(found.group(1))


def child(args: argparse.Namespace) -> None:
    """In the child under callgrind: build the app, warm up, count only the measured requests."""
    import ctypes

    from bench.stack import backend_stack

    helper = ctypes.CDLL(args.helper)
    with backend_stack(args.backend == "sqlite", args.database_url, args.redis_url,
                       "madoguchi-instructions-") as stack:
        answers = _measured_answers(helper, stack, args)
    if set(answers) != {200}:
        raise SystemExit(f"not every measured request was answered 200: {sorted(set(answers))}")


def _measured_answers(helper, stack, args: argparse.Namespace) -> list[int]:
    """Build the app on the stack, warm up, and count only the measured requests' work."""
    from twilio.request_validator import RequestValidator

    from bench.callers.ceiling_app import create_app as ceiling_app
    from bench.stack import rebuild
    from bench.webhooks import inprocess

    rebuild(stack)
    if args.app == "madoguchi":
        from madoguchi import create_app

        app = create_app(stack.settings())
    else:
        app = ceiling_app()
    base = stack.settings().secrets.public_base_url
    validator = RequestValidator(stack.auth_token)
    client = app.test_client()

    def prepared(how_many: int) -> list[tuple[str, dict, dict]]:
        out = []
        for _ in range(how_many):
            sid = "CA" + os.urandom(16).hex()
            path, form = "/voice/incoming", inprocess.call_form(sid)
            if args.webhook == "menu":
                greeting = inprocess.signed_post(client, validator, base, path, form)
                path = inprocess.menu_path_after(greeting.data)
                form = inprocess.call_form(sid, Digits="1")
            signature = validator.compute_signature(base + path, form)
            out.append((path, form, {"X-Twilio-Signature": signature}))
        return out

    for path, form, headers in prepared(WARM_UP):
        client.post(path, data=form, headers=headers)
    measured = prepared(args.requests)
    helper.measure_start()
    answers = [client.post(path, data=form, headers=headers).status_code
               for path, form, headers in measured]
    helper.measure_stop()
    return answers


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="measured requests per count")
    parser.add_argument("--backend", default="sqlite,postgresql",
                        help="sqlite, postgresql, or both (comma list)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--helper", help=argparse.SUPPRESS)
    parser.add_argument("--webhook", choices=("incoming", "menu"), help=argparse.SUPPRESS)
    parser.add_argument("--app", choices=("madoguchi", "ceiling"), help=argparse.SUPPRESS)
    add_stack_options(parser)
    parser.set_defaults(database_url=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE),
                        redis_url=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Count, print, and write the results to a run folder (or --output)."""
    args = parse_args(argv)
    if args.child:
        child(args)
        return 0
    backends = [name.strip() for name in args.backend.split(",") if name.strip()]
    if "postgresql" in backends:
        check_bench_database(args.database_url)
    # Beside the webhook bench's own runs: bench/webhooks/runs/<time>/results.json.
    args.output = output_file("webhooks", args.output)
    results: dict = {"requests": args.requests, "per_request": []}
    with tempfile.TemporaryDirectory(prefix="madoguchi-callgrind-") as folder:
        helper = build_helper(Path(folder))
        for backend in backends:
            for webhook in ("incoming", "menu"):
                apps = {app: count(helper, backend, webhook, app, args.requests, args)
                        // args.requests for app in ("madoguchi", "ceiling")}
                point = {"backend": backend, "webhook": webhook, **apps,
                         "ratio_ceiling_over_madoguchi": round(apps["ceiling"]
                                                              / apps["madoguchi"], 3)}
                results["per_request"].append(point)
                print(f"{backend:10} {webhook:8} madoguchi {apps['madoguchi']:>10,} "
                      f"ceiling {apps['ceiling']:>10,} instructions/request "
                      f"(ratio {point['ratio_ceiling_over_madoguchi']})", flush=True)
    write_record("webhooks-instructions", args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
