"""Real server processes a fault test can stop, hang, restart and kill.

A private redis-server and a private PostgreSQL cluster on free loopback ports (never the shared
ones), the app served by waitress in its own process, and `madoguchi worker` processes. Every
process started here is stopped by the fixture that started it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path

import requests

from tests.madoguchi.telephony.live_server import free_port

ROOT = Path(__file__).resolve().parents[2]
MADOGUCHI_SCRIPT = Path(sys.executable).parent / "madoguchi"
START_SECONDS = 30


def wait_until(check: Callable[[], object], seconds: float, what: str,
               every: float = 0.1) -> object:
    """Poll `check` until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {seconds} s")


def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class RedisServer:
    """A private redis-server without persistence: a restart loses every key, like a crash."""

    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server on its port and wait until it answers."""
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, START_SECONDS, f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        from redis import Redis
        from redis.exceptions import RedisError

        try:
            return bool(Redis(port=self.port, socket_timeout=0.5).ping())
        except RedisError:
            return False

    def stop(self) -> None:
        """Stop the server at once (SIGKILL: nothing is saved)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # a hung server must be able to die
        _stop(self.process, signal.SIGKILL)

    def hang(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing is answered."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a frozen server go on (SIGCONT)."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder, if any."""
    found = sorted(glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresCluster:
    """A private PostgreSQL cluster in a temporary folder, on its own port."""

    bin: Path
    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        """The database URL of its `madoguchi` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/madoguchi"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        # initdb and the server refuse to run as root: run them as the postgres user then.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120,
                              check=False)

    def init(self) -> None:
        """Create the cluster (trust authentication on loopback) and its database."""
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        done = self._run(str(self.bin / "initdb"), "-D", str(self.folder / "data"), "-U",
                         "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        self.start()
        created = self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                            "-U", "postgres", "madoguchi")
        if created.returncode != 0:
            raise RuntimeError(f"createdb failed: {created.stderr.strip()}")

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-o",
                         options, "-l", str(self.folder / "server.log"), "-w", "start")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip() or done.stdout}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; "immediate" is a crash, "fast" a clean shutdown."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", mode, "-w",
                  "stop")

    def remove(self) -> None:
        """Stop the server and delete the cluster's files."""
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def private_postgres() -> PostgresCluster:
    """A started private cluster; raises RuntimeError saying why one cannot be made here."""
    binaries = postgres_bin()
    if binaries is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb) are installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        raise RuntimeError("running as root without runuser to start PostgreSQL as postgres")
    cluster = PostgresCluster(binaries, Path(tempfile.mkdtemp(prefix="madoguchi-pg-")))
    try:
        cluster.init()
    except Exception:
        shutil.rmtree(cluster.folder, ignore_errors=True)
        raise
    return cluster


@dataclass
class WebProcess:
    """The app served by waitress in its own process (as in production behind a balancer)."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        """Where this process listens."""
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        """Start the process (without waiting for it to serve)."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.madoguchi.telephony.live_server", str(self.port)],
            cwd=ROOT,
            env=self.env)

    def wait_serving(self) -> None:
        """Wait until the process answers HTTP."""
        wait_until(self._answers, START_SECONDS * 2, f"the web process on port {self.port}",
                   every=0.2)

    def start(self) -> None:
        """Start serving and wait until it answers HTTP."""
        self.launch()
        self.wait_serving()

    def _answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the web process exited with code {self.process.returncode}")
        try:
            return requests.get(self.base_url + "/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def kill(self) -> None:
        """Kill the process at once (SIGKILL), as when a host dies."""
        _stop(self.process, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the process."""
        _stop(self.process)


@dataclass
class WorkerProcess:
    """A `madoguchi worker` process; its jobs run in forked work horses."""

    env: dict[str, str]
    process: subprocess.Popen | None = None
    log: Path | None = None

    def start(self) -> None:
        """Start the worker (with RQ's scheduler); its output goes to a log file."""
        self.log = Path(tempfile.mkstemp(prefix="madoguchi-worker-", suffix=".log")[1])
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(MADOGUCHI_SCRIPT), "worker"], env=self.env, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)

    def output(self) -> str:
        """What the worker has logged so far."""
        return self.log.read_text(errors="replace") if self.log else ""

    def horse_pids(self) -> list[int]:
        """The worker's children: RQ's scheduler and the work horse of a running job."""
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        """SIGKILL the worker with RQ's scheduler (its process group) and its work horse."""
        horses = self.horse_pids()
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for pid in horses:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the worker and its horses, and delete its log."""
        self.kill()
        if self.log is not None:
            self.log.unlink(missing_ok=True)
