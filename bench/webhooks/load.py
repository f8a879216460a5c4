"""Webhooks over HTTP at a fixed concurrency, Madoguchi beside the ceiling under one server."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import time
from pathlib import Path

import aiohttp
from twilio.request_validator import RequestValidator

from bench._results import percentile
from bench.cpu_use import CpuMeter, Finder, named, this_process, tree_of
from bench.stack import VENV_BIN, Stack, free_port, wait_until_serving
from bench.webhooks import inprocess

TWILIO_TIMEOUT_SECONDS = 15.0


async def _drive(base_url: str, public_base: str, auth_token: str, concurrency: int,
                 seconds: float, paths, sids: list[str], made: list[str],
                 menu_paths: dict[str, str] | None = None) -> dict:
    """concurrency callers sending webhooks for `seconds`, a new connection and CallSid each.

    Each request is for the next of `sids` (calls already made), else a new CallSid; new ones
    go to made. paths(sid) gives (path, extra form fields); menu_paths, when given, keeps each
    call's menu-answer URL with the state its answer handed out.
    """
    validator = RequestValidator(auth_token)
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=TWILIO_TIMEOUT_SECONDS)

    async def caller() -> None:
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True, limit=0),
                timeout=timeout) as http:
            while time.monotonic() < deadline:
                sid = sids.pop() if sids else "CA" + secrets.token_hex(16)
                path, extra = paths(sid)
                made.append(sid)
                form = inprocess.call_form(sid, **extra)
                headers = {"X-Twilio-Signature": validator.compute_signature(
                    public_base + path, form)}
                started = time.perf_counter()
                try:
                    async with http.post(base_url + path, data=form, headers=headers) as reply:
                        body = await reply.read()
                        ok = reply.status == 200 and b"<Response" in body
                        if ok and menu_paths is not None:
                            menu_paths[sid] = inprocess.menu_path_after(body)
                        cause = f"HTTP {reply.status}"
                except TimeoutError:
                    ok, cause = False, "timeout (15 s)"
                except aiohttp.ClientError as exc:
                    ok, cause = False, type(exc).__name__
                if ok:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    errors[cause] = errors.get(cause, 0) + 1

    began = time.monotonic()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.monotonic() - began
    return {"requests": len(latencies), "requests_per_second": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "max_ms": round(max(latencies, default=0.0), 1),
            "errors": sum(errors.values()), "error_causes": errors}


def cpu_groups(server: subprocess.Popen) -> dict[str, Finder]:
    """The server's processes, the database's, Redis's and this load generator's."""
    # The server's tree holds serve's worker too, and serve's own Redis, counted as Redis.
    return {"web": tree_of(server.pid, without=("redis-server", "postgres")),
            "postgresql": named("postgres"), "redis": named("redis-server"),
            "load generator": this_process()}


def _metered(drive, groups: dict[str, Finder]) -> dict:
    """Run one phase of load; its result with the CPU milliseconds per answered request."""
    meter = CpuMeter(groups)
    meter.start()
    result = asyncio.run(drive)
    used = meter.stop()
    requests = max(result["requests"], 1)
    result["cpu_ms_per_request"] = {name: round(seconds * 1000 / requests, 3)
                                    for name, seconds in used.items()}
    return result


def measure_app(base_url: str, public_base: str, auth_token: str, args,
                groups: dict[str, Finder]) -> dict:
    """/voice/incoming, then menu answers (Digits=1) of the calls the first run made."""
    made: list[str] = []
    menu_paths: dict[str, str] = {}
    incoming = _metered(_drive(base_url, public_base, auth_token, args.concurrency,
                               args.seconds, lambda sid: ("/voice/incoming", {}), [], made,
                               menu_paths), groups)
    ungreeted = 0

    def menu_answer(sid: str) -> tuple[str, dict[str, str]]:
        # The menu answers outrun the calls the greetings made: counted, as they do not
        # answer the state a greeting of this run handed out.
        nonlocal ungreeted
        path = menu_paths.get(sid)
        if path is None:
            ungreeted += 1
            path = inprocess.menu_path(as_greeted=True)
        return path, {"Digits": "1"}

    menu = _metered(_drive(base_url, public_base, auth_token, args.concurrency, args.seconds,
                           menu_answer, made, []), groups)
    menu["answers_without_their_own_greeting"] = ungreeted
    return {"incoming": incoming, "menu": menu,
            "errors": incoming["errors"] + menu["errors"]}


def _start(stack: Stack, name: str, command: list[str], env: dict[str, str],
           port: int) -> subprocess.Popen:
    process = stack.start(command, env, name)
    wait_until_serving(port, process, stack.workdir / f"{name}.log")
    return process


def side_by_side(stack: Stack, args, label: str, processes: int | None = None) -> dict:
    """Madoguchi and the ceiling under the same server and load, one after the other."""
    app_port, ceiling_port = free_port(), free_port()
    load_before = os.getloadavg()
    try:
        if label == "postgresql":
            server = f"gunicorn -w {args.workers} --threads {args.threads} gthread"
            app_server = stack.gunicorn("madoguchi:create_app()", app_port,
                                        workers=args.workers, threads=args.threads,
                                        name="madoguchi")
            ceiling_server = stack.gunicorn("bench.callers.ceiling_app:create_app()",
                                            ceiling_port, workers=args.workers,
                                            threads=args.threads, name="ceiling")
        else:
            from madoguchi.serve import WEB_THREADS

            env = {k: v for k, v in stack.env(app_port).items()
                   if k not in ("DATABASE_URL", "REDIS_URL")}
            app_server = _start(stack, "madoguchi", [str(VENV_BIN / "madoguchi"), "serve",
                                                     "--port", str(app_port),
                                                     "--web-processes", str(processes)],
                                env, app_port)
            if processes > 1:
                # The ceiling under what serve runs: gunicorn gthread, as many processes and
                # threads, so the ratio compares the apps and not the servers.
                server = (f"madoguchi serve --web-processes {processes} (gunicorn -w "
                          f"{processes} gthread, {WEB_THREADS} threads each)")
                ceiling_server = stack.gunicorn("bench.callers.ceiling_app:create_app()",
                                                ceiling_port, workers=processes,
                                                threads=WEB_THREADS, name="ceiling")
            else:
                server = f"madoguchi serve --web-processes 1 (waitress, {WEB_THREADS} threads)"
                ceiling_server = _start(
                    stack, "ceiling",
                    [str(VENV_BIN / "waitress-serve"), "--listen", f"127.0.0.1:{ceiling_port}",
                     "--threads", str(WEB_THREADS), "--call",
                     "bench.callers.ceiling_app:create_app"],
                    {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
                    ceiling_port)
        public_app = stack.env(app_port)["PUBLIC_BASE_URL"]
        apps = {
            "madoguchi": measure_app(f"http://127.0.0.1:{app_port}", public_app,
                                     stack.auth_token, args, cpu_groups(app_server)),
            "ceiling": measure_app(f"http://127.0.0.1:{ceiling_port}",
                                   f"http://127.0.0.1:{ceiling_port}", stack.auth_token, args,
                                   cpu_groups(ceiling_server)),
        }
    finally:
        stack.stop()
    ratios = {name: round(apps["madoguchi"][name]["requests_per_second"]
                          / apps["ceiling"][name]["requests_per_second"], 3)
              if apps["ceiling"][name]["requests_per_second"] else None
              for name in ("incoming", "menu")}
    return {"backend": label, "server": server, "concurrency": args.concurrency,
            "cpu_count": os.cpu_count(),
            "seconds": args.seconds,
            "load_average_before": " ".join(f"{v:.2f}" for v in load_before),
            "load_average_after": " ".join(f"{v:.2f}" for v in os.getloadavg()),
            "apps": apps, "ratio_to_ceiling": ratios}


def print_http(point: dict) -> None:
    """One backend's side-by-side table."""
    print(f"over HTTP, {point['backend']}, {point['server']}, {point['concurrency']} at once "
          f"(load average {point['load_average_before']}):")
    for app, sides in point["apps"].items():
        for name in ("incoming", "menu"):
            side = sides[name]
            print(f"  {app:9} {name:8} {side['requests_per_second']:8.1f} req/s  p50 "
                  f"{side['p50_ms']:.1f} p99 {side['p99_ms']:.1f} max {side['max_ms']:.1f} ms  "
                  f"errors {side['errors']} {side['error_causes'] or ''}")
            cpu = side["cpu_ms_per_request"]
            shares = ", ".join(f"{group} {ms:.3f}" for group, ms in cpu.items())
            print(f"  {'':9} {'':8} CPU ms per request: {shares}; all {sum(cpu.values()):.3f}")
    print(f"  ratio to ceiling: {point['ratio_to_ceiling']}")


def print_in_process(point: dict) -> None:
    """One backend's in-process table."""
    print(f"in process, {point['backend']} (load average {point['load_average_before']}):")
    for app in ("madoguchi", "ceiling"):
        for name, kinds in point[app].items():
            wall, cpu = kinds["wall"], kinds["cpu"]
            print(f"  {app:9} {name:8} wall mean {wall['mean_ms']:.3f} p50 {wall['p50_ms']:.3f} "
                  f"p99 {wall['p99_ms']:.3f} ms | cpu mean {cpu['mean_ms']:.3f} ms")
