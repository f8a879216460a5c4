"""A real Madoguchi web server in its own process for whole-call tests.

Run as `python -m tests.madoguchi.telephony.live_server PORT`: the app from create_app(), served by
waitress on 127.0.0.1:PORT, with its settings from the environment (the test database and
Redis) and the line open around the clock like the demo city. The `live_server` fixture starts
it once per test session and stops it at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]
START_SECONDS = 60
STOP_SECONDS = 10


@dataclass(frozen=True)
class LiveServer:
    """The running server: its address and the environment it was started with."""

    base_url: str
    env: dict[str, str]

    def url(self, path: str) -> str:
        """The full URL of a path on this server."""
        return self.base_url + path


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_healthy(process: subprocess.Popen, base_url: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the test server exited with code {process.returncode}")
        try:
            if requests.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the test server did not answer {base_url}/healthz in {START_SECONDS} s")


@pytest.fixture(scope="session")
def live_server(base_env, engine) -> Iterator[LiveServer]:
    """The app served by waitress in a child process, on the migrated test database."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **base_env, "PUBLIC_BASE_URL": base_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.madoguchi.telephony.live_server", str(port)], cwd=ROOT,
        env=env
    )
    try:
        _wait_healthy(process, base_url)
        yield LiveServer(base_url, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(port: int) -> None:
    """Serve the app until terminated."""
    from waitress import serve

    from madoguchi import create_app
    from madoguchi.serve import open_all_hours
    from madoguchi.settings import load_settings

    app = create_app(open_all_hours(load_settings()))
    serve(app, host="127.0.0.1", port=port, threads=16, ident="madoguchi-test")


if __name__ == "__main__":
    main(int(sys.argv[1]))
