"""Fixtures of the fault tests: private Redis and PostgreSQL servers, web and worker processes.

The suite's database (SQLite or the PostgreSQL of DATABASE_URL) holds the data unless a test
restarts PostgreSQL, which it does on a private cluster of its own. Redis is always a private
redis-server, so stopping or freezing it disturbs nobody else.
"""

from __future__ import annotations

import os
import shutil
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
from redis import Redis

from madoguchi.telephony.network import SimulatedNetwork
from tests.faults.processes import RedisServer, WebProcess, WorkerProcess
from tests.ivr.conftest import BASE, Caller, sign

# A webhook must answer within this, whatever Redis or the database is doing.
WEBHOOK_SECONDS = 2.0


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    """A private, started redis-server (skipped when the binary is not installed)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_redis(redis_server) -> Iterator[Redis]:
    """A client of the private redis-server with short timeouts."""
    client = Redis.from_url(redis_server.url, socket_timeout=1, socket_connect_timeout=1)
    yield client
    client.close()


@pytest.fixture
def fault_env(base_env, redis_server) -> dict[str, str]:
    """The environment of the processes under test: the suite's database, the private Redis."""
    return {**os.environ, **base_env, "REDIS_URL": redis_server.url}


@pytest.fixture
def start_webs(fault_env) -> Iterator[Callable[..., list[WebProcess]]]:
    """Start `count` web processes at once (all stopped at the end); keywords override the env."""
    started: list[WebProcess] = []

    def start(count: int, **env: str) -> list[WebProcess]:
        processes = [WebProcess({**fault_env, **env}) for _ in range(count)]
        started.extend(processes)
        for process in processes:
            process.launch()
        for process in processes:
            process.wait_serving()
        return processes

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def start_web(start_webs) -> Callable[..., WebProcess]:
    """Start one web process; keyword arguments override the env."""
    return lambda **env: start_webs(1, **env)[0]


@pytest.fixture
def start_worker(fault_env) -> Iterator[Callable[..., WorkerProcess]]:
    """Start `madoguchi worker` processes (all killed at the end)."""
    started: list[WorkerProcess] = []

    def start(**env: str) -> WorkerProcess:
        worker = WorkerProcess({**fault_env, **env})
        started.append(worker)
        worker.start()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def line_app(app, redis_server):
    """The test app with its Redis (board, jobs, simulated phone network) on the private server."""
    app.extensions["madoguchi_redis_url"] = redis_server.url
    app.extensions["madoguchi_redis"] = None
    app.extensions["madoguchi_telephony"] = None
    return app


@pytest.fixture
def network(private_redis) -> SimulatedNetwork:
    """The simulated phone network, on the private Redis the processes use."""
    return SimulatedNetwork(private_redis)


@dataclass
class HttpResponse:
    """The parts of a response the scripted Caller reads, with how long it took."""

    status_code: int
    body: str
    seconds: float

    def get_data(self, as_text: bool = True) -> str:
        """The body as text."""
        return self.body


class HttpClient:
    """Sends the Caller's signed requests over HTTP to one web process, timing each."""

    def __init__(self, web: WebProcess) -> None:
        self.web = web
        self.timings: list[tuple[str, float]] = []

    def post(self, path: str, data: dict[str, str], headers: dict[str, str]) -> HttpResponse:
        """POST like Twilio: form fields, signature header, a 15-second timeout."""
        started = time.monotonic()
        response = requests.post(self.web.base_url + path, data=data, headers=headers,
                                 timeout=15)
        seconds = time.monotonic() - started
        self.timings.append((path, seconds))
        return HttpResponse(response.status_code, response.text, seconds)


def http_caller(web: WebProcess, number: str, sid_digit: str = "1") -> Caller:
    """A scripted caller whose requests go over HTTP to the given web process."""
    return Caller(HttpClient(web), call_sid="CA" + sid_digit * 32, number=number)


def signed_post(web: WebProcess, path: str, **fields: str) -> HttpResponse:
    """One webhook POST signed for the public URL, sent to the given web process."""
    return HttpClient(web).post(path, fields, {"X-Twilio-Signature": sign(BASE + path, fields)})


def is_twiml(response: HttpResponse) -> bool:
    """True for a 200 answer whose body is a TwiML document with at least one verb."""
    if response.status_code != 200:
        return False
    root = ET.fromstring(response.body)  # noqa: S314 (our own server's answer)
    return root.tag == "Response" and len(root) > 0

