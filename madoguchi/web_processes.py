"""The web app of `madoguchi serve` in several processes, so that webhooks use every core.

One Python process runs one thread at a time: with 50 callers' webhooks at once, one process
is bound by its own interpreter lock long before the machine is. `serve` binds the address
itself (so a busy port is reported before anything starts) and hands the socket to gunicorn
(gthread workers), which it runs as a child in its own process group and restarts if it dies;
gunicorn's master replaces a worker that dies. The processes share what they must share: the
SQLite file (writers take turns, see madoguchi/sqlite_turn.py), the embedded Redis (the
simulated phone network, the call buffers, the queues) and the key files in var/. The demo
data, the worker and the simulated operator stay in `serve`'s own process, once.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

log = logging.getLogger(__name__)

# More processes than cores only adds switching; beyond a few, SQLite's single writer and the
# embedded Redis are the limit, not the interpreter.
MAX_DEFAULT_PROCESSES = 4
STOP_SECONDS = 10
RESTART_SECONDS = 2
READY_SECONDS = 60
# Live views (up to a minute) are cut after this when serve stops, as waitress did at once.
GRACEFUL_SECONDS = 3


def can_fork_servers() -> bool:
    """True where gunicorn runs and writers of processes can take turns (Linux, BSD)."""
    if sys.platform in ("win32", "darwin"):
        return False  # no fork (Windows), fork unsafe after system frameworks load (macOS)
    try:
        import fcntl  # noqa: F401
    except ImportError:
        return False
    return True


def default_web_processes() -> int:
    """One per core, at most a few, where several are possible; else one."""
    if not can_fork_servers():
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_PROCESSES))


def shares_one_database(database_url: str) -> bool:
    """False for an in-memory SQLite database: each process would have its own."""
    from sqlalchemy.engine import make_url

    from madoguchi.db import sqlite_on_disk

    url = make_url(database_url)
    return url.get_backend_name() != "sqlite" or sqlite_on_disk(url.database)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (OSError when the address cannot be taken)."""
    family, kind, proto, _name, address = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def gunicorn_command(fd: int, *, processes: int, threads: int, always_open: bool) -> list[str]:
    """The command line of the gunicorn child serving the app from the inherited socket fd."""
    return [
        sys.executable, "-m", "gunicorn", "--bind", f"fd://{fd}",
        "--workers", str(processes), "--worker-class", "gthread", "--threads", str(threads),
        "--graceful-timeout", str(GRACEFUL_SECONDS), "--log-level", "warning",
        # As waitress: no proxy's forwarded headers are trusted, and no control socket.
        "--forwarded-allow-ips", "", "--no-control-socket",
        f"madoguchi.web_processes:app_for_serve(always_open={always_open})",
    ]


def app_for_serve(always_open: bool = False):
    """The app as one web process of `serve` builds it, from the environment serve gives it."""
    from madoguchi import create_app
    from madoguchi.serve import open_all_hours
    from madoguchi.settings import load_settings

    settings = load_settings()
    return create_app(open_all_hours(settings) if always_open else settings)


class WebStartFailed(Exception):
    """The web processes stopped, or never answered, at start; the message says which."""


class WebProcesses:
    """gunicorn serving the app from serve's socket; restarted if it dies while serving."""

    def __init__(self, sock: socket.socket, env: dict[str, str], *, processes: int,
                 threads: int, always_open: bool) -> None:
        self._sock = sock
        self._env = env
        self._command = gunicorn_command(sock.fileno(), processes=processes, threads=threads,
                                         always_open=always_open)
        self._stopping = threading.Event()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start gunicorn and wait until the app answers on the socket."""
        self.process = self._spawn()
        self.wait_ready()

    def _spawn(self) -> subprocess.Popen:
        # Its own process group: Ctrl-C reaches serve only, which stops things in order.
        return subprocess.Popen(self._command, env=self._env, pass_fds=(self._sock.fileno(),),
                                process_group=0)

    def wait_ready(self, seconds: float = READY_SECONDS) -> None:
        """Block until some web process answers an HTTP request (any status)."""
        host, port = self._sock.getsockname()[:2]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise WebStartFailed(f"the web processes stopped at start "
                                   f"(exit {self.process.returncode})")
            connection = http.client.HTTPConnection(host, port, timeout=2)
            try:
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                return
            except OSError:
                time.sleep(0.1)
            finally:
                connection.close()
        raise WebStartFailed(f"the web processes did not answer within {seconds:.0f} s")

    def serve_forever(self) -> None:
        """Block while serving; a gunicorn that dies is replaced (Ctrl-C ends the wait)."""
        while not self._stopping.is_set():
            assert self.process is not None
            code = self.process.wait()
            if self._stopping.wait(RESTART_SECONDS):
                return
            log.warning("the web processes stopped unexpectedly (exit %s); starting them again",
                        code)
            self._kill_group()
            self.process = self._spawn()

    def stop(self) -> None:
        """Stop serving: let the processes finish their requests briefly, then end them."""
        self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)  # the master stops its workers
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning("the web processes did not stop in %d s; ending them", STOP_SECONDS)
        self._kill_group()
        if process is not None:
            process.wait()

    def _kill_group(self) -> None:
        # Nothing of the group (a worker the master lost track of) may outlive it.
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
