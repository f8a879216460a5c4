"""`madoguchi serve` as a real process: no services needed, a clear banner, a clean stop."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from madoguchi.web_processes import can_fork_servers

ROOT = Path(__file__).resolve().parents[2]
MADOGUCHI_SCRIPT = Path(sys.executable).parent / "madoguchi"
START_SECONDS = 60
STOP_SECONDS = 30


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ServeProcess:
    """A running `madoguchi serve` whose output is collected line by line."""

    def __init__(self, var_dir: Path, *args: str, env_extra: dict[str, str] | None = None) -> None:
        self.var_dir = var_dir
        env = {
            key: value for key, value in os.environ.items()
            if key not in {"DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "MADOGUCHI_CONFIG"}
        }
        env.update(MADOGUCHI_VAR_DIR=str(var_dir), MADOGUCHI_CONFIG=str(ROOT / "config.toml"),
                   **(env_extra or {}))
        self.process = subprocess.Popen(
            [str(MADOGUCHI_SCRIPT), "serve", *args], env=env, cwd=var_dir.parent,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, seconds: float = START_SECONDS) -> None:
        """Wait until a printed line contains text."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never printed; output so far:\n{self.output}")

    def stop(self, signum: int) -> int:
        """Send a signal and wait for the exit code."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout=STOP_SECONDS)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        """Last resort after a failed test: end the process tree it started."""
        for pid in processes_started_for(self.var_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def processes_started_for(var_dir: Path) -> list[int]:
    """Every live process (serve, worker, work horses, Redis) running for this var dir.

    Python processes carry MADOGUCHI_VAR_DIR in their environment; redis-server overwrites its
    environment with its process title but works in the var dir, where its data file is.
    """
    marker = f"MADOGUCHI_VAR_DIR={var_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cwd = (entry / "cwd").resolve()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        ours = marker in environ.split(b"\0") or cwd == var_dir.resolve()
        if ours and state != "Z":
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    """The command line of a process, or '' when it is gone."""
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def get_health(port: int) -> tuple[int, dict]:
    """GET /healthz: status code and body (0 when nothing answers yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")
    except OSError:
        return 0, {}


def wait_healthy(port: int, serve: ServeProcess) -> dict:
    """Poll /healthz until it answers 200."""
    deadline = time.monotonic() + START_SECONDS
    status, body = 0, {}
    while time.monotonic() < deadline and serve.process.poll() is None:
        status, body = get_health(port)
        if status == 200:
            return body
        time.sleep(0.2)
    raise AssertionError(f"/healthz never became 200 (last {status} {body});\n{serve.output}")


def wait_all_gone(var_dir: Path, seconds: float = 20) -> list[str]:
    """Wait for every process of this var dir to end; the command lines of those still alive."""
    deadline = time.monotonic() + seconds
    while (left := processes_started_for(var_dir)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [f"{pid}: {command_line(pid)}" for pid in left]


@pytest.fixture
def var_dir(tmp_path) -> Path:
    """An empty var dir for one serve process."""
    path = tmp_path / "var"
    path.mkdir(mode=0o755)  # as an earlier version left it: serve narrows it to 0700
    return path


def owner_only(var_dir: Path) -> list[str]:
    """Whatever in var/ others could read: the folder must be 0700 and every file 0600."""
    wide = [] if var_dir.stat().st_mode & 0o777 == 0o700 else [f"{var_dir}: folder"]
    expected = {"madoguchi.db", "madoguchi.db-wal", "madoguchi.db-shm", "redis.db",
                "redis.db.settings", "data_keys", "index_key", "secret_key",
                "simulator_auth_token", "madoguchi.db-writer"}
    present = {path.name for path in var_dir.iterdir()}
    assert {"madoguchi.db", "data_keys", "index_key", "secret_key"} <= present <= expected | {
        "redis.db.tmp"}, present
    return wide + [f"{path.name}: {oct(path.stat().st_mode & 0o777)}" for path in
                   var_dir.iterdir() if path.stat().st_mode & 0o777 != 0o600]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_runs_everything_without_services_and_stops_cleanly(var_dir, signum):
    port = free_port()
    serve = ServeProcess(var_dir, "--port", str(port))
    try:
        assert wait_healthy(port, serve) == {"status": "ok", "database": "ok", "redis": "ok"}
        serve.wait_for_line("Stop with Ctrl-C")
        base = f"http://127.0.0.1:{port}"
        for expected in (
            f"{base}/", f"{base}/voice/incoming", f"{base}/voice/status",
            f"{base}/voice/fallback", "madoguchi create-user", f"madoguchi phone --url {base}",
        ):
            assert expected in serve.output

        running = processes_started_for(var_dir)
        commands = [command_line(pid) for pid in running]
        assert serve.process.pid in running
        assert any("redis-server" in command for command in commands), commands
        assert any("madoguchi.cli worker --log-level WARNING" in command
                   for command in commands), commands
        assert (var_dir / "madoguchi.db").is_file()  # SQLite under var/, migrated
        assert owner_only(var_dir) == []

        assert serve.stop(signum) == 0, serve.output
        assert "Madoguchi stopped." in serve.output, serve.output
        assert wait_all_gone(var_dir) == []
        assert (var_dir / "redis.db").is_file()  # the embedded Redis saved its data on the way out
        assert owner_only(var_dir) == []
    finally:
        serve.kill()


@pytest.mark.slow
def test_the_banner_stays_in_sight_the_worker_only_warns_unless_verbose(var_dir):
    port = free_port()
    serve = ServeProcess(var_dir, "--port", str(port), "--demo")
    try:
        wait_healthy(port, serve)
        serve.wait_for_line("Stop with Ctrl-C")
        time.sleep(8)  # the worker's start, its first scheduling round and sweep
        after = serve.lines[serve.lines.index(next(line for line in serve.lines
                                                    if "Stop with Ctrl-C" in line)) + 1:]
        assert [line for line in after if " INFO " in line] == [], after
        assert serve.stop(signal.SIGTERM) == 0, serve.output
    finally:
        serve.kill()


@pytest.mark.slow
def test_serve_starts_on_a_fresh_install_whose_secrets_all_come_from_the_environment(tmp_path):
    # As a systemd unit would start it: nothing writes a local secret, so nothing made var/.
    (tmp_path / "fresh").mkdir()
    var_dir = tmp_path / "fresh" / "var"
    port = free_port()
    serve = ServeProcess(var_dir, "--port", str(port), env_extra={
        "SECRET_KEY": "from-the-unit-file", "TWILIO_AUTH_TOKEN": "also-from-the-unit-file"})
    try:
        assert wait_healthy(port, serve) == {"status": "ok", "database": "ok", "redis": "ok"}
        assert (var_dir / "madoguchi.db").is_file()
        assert var_dir.stat().st_mode & 0o777 == 0o700
        assert not (var_dir / "secret_key").exists()
        assert serve.stop(signal.SIGTERM) == 0, serve.output
    finally:
        serve.kill()


@pytest.mark.slow
def test_serve_on_a_busy_port_says_so_and_leaves_nothing_running(var_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        serve = ServeProcess(var_dir, "--port", str(port))
        try:
            code = serve.process.wait(timeout=START_SECONDS)
            serve._reader.join(timeout=5)
            assert code == 1
            assert f"Error: cannot listen on 127.0.0.1:{port}" in serve.output
            assert wait_all_gone(var_dir) == []
        finally:
            serve.kill()


@pytest.mark.slow
def test_serve_demo_loads_the_demo_city_once_and_shows_its_users(var_dir):
    from madoguchi.demo_data import DEMO_USERS

    port = free_port()
    serve = ServeProcess(var_dir, "--port", str(port), "--demo")
    try:
        wait_healthy(port, serve)
        serve.wait_for_line("Stop with Ctrl-C")
        assert "demo city loaded" in serve.output
        assert "open around the clock" in serve.output
        for name, password, role in DEMO_USERS:
            assert f"{name} / {password}  ({role})" in serve.output
        assert serve.stop(signal.SIGINT) == 0
    finally:
        serve.kill()
    assert wait_all_gone(var_dir) == []

    again = ServeProcess(var_dir, "--port", str(port), "--demo")
    try:
        wait_healthy(port, again)
        again.wait_for_line("Stop with Ctrl-C")
        assert "not loaded again" in again.output
        assert "demo city loaded" not in again.output
        assert f"{DEMO_USERS[0][0]} / {DEMO_USERS[0][1]}" in again.output
        assert again.stop(signal.SIGTERM) == 0
    finally:
        again.kill()
    assert wait_all_gone(var_dir) == []


# --- the settings serve runs with (no process needed) ----------------------------------------


@pytest.mark.parametrize(
    ("host", "shown"),
    [("127.0.0.1", "http://127.0.0.1:8123"), ("0.0.0.0", "http://127.0.0.1:8123"),  # noqa: S104
     ("::1", "http://[::1]:8123"), ("madoguchi.local", "http://madoguchi.local:8123")],
)
def test_without_public_base_url_serve_announces_its_own_address(settings, host, shown):
    from madoguchi.serve import serving_settings

    served = serving_settings(settings, host=host, port=8123, demo=False, env={})
    assert served.secrets.public_base_url == shown
    assert served.hours.always_open is settings.hours.always_open


def test_a_configured_public_base_url_is_kept(settings):
    from madoguchi.serve import serving_settings

    env = {"PUBLIC_BASE_URL": settings.secrets.public_base_url}
    served = serving_settings(settings, host="127.0.0.1", port=8123, demo=False, env=env)
    assert served.secrets.public_base_url == settings.secrets.public_base_url


def test_the_demo_city_is_open_around_the_clock_without_changing_the_loaded_settings(settings):
    from madoguchi.serve import serving_settings

    served = serving_settings(settings, host="127.0.0.1", port=8123, demo=True, env={})
    assert served.hours.always_open is True
    assert settings.hours.always_open is False
    assert served.hours.monday == settings.hours.monday
    assert served.menu == settings.menu


def worker_pids(var_dir: Path) -> set[int]:
    """The worker processes (not their scheduler children) running for this var dir."""
    pids = processes_started_for(var_dir)
    workers = {pid for pid in pids if " madoguchi.cli worker " in command_line(pid) + " "}
    return {pid for pid in workers if _parent(pid) not in workers}


def _parent(pid: int) -> int:
    try:
        return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except OSError:
        return 0


@pytest.mark.slow
def test_a_worker_that_dies_is_replaced_and_the_replacement_stops_with_serve(var_dir):
    port = free_port()
    serve = ServeProcess(var_dir, "--port", str(port), "--verbose")  # the worker says it listens
    try:
        wait_healthy(port, serve)
        serve.wait_for_line("Listening on")
        (first,) = worker_pids(var_dir)
        os.killpg(first, signal.SIGKILL)  # the worker and its scheduler, as a crash would
        # Only serve's own children count: a work horse of the killed worker runs in its own
        # session, survives the kill, and finishes its job as an orphan.
        deadline = time.monotonic() + START_SECONDS
        replaced: set[int] = set()
        while time.monotonic() < deadline and not replaced:
            replaced = {pid for pid in worker_pids(var_dir) - {first}
                        if _parent(pid) == serve.process.pid}
            time.sleep(0.2)
        assert len(replaced) == 1, (replaced, serve.output)
        serve.wait_for_line("the worker stopped unexpectedly")
        assert serve.stop(signal.SIGINT) == 0
        assert wait_all_gone(var_dir) == []
    finally:
        serve.kill()


# --- several web processes ------------------------------------------------------------------


def web_pids(var_dir: Path) -> tuple[set[int], set[int]]:
    """The web processes for this var dir: (gunicorn masters, their workers)."""
    pids = {pid for pid in processes_started_for(var_dir) if " -m gunicorn " in command_line(pid)}
    masters = {pid for pid in pids if _parent(pid) not in pids}
    return masters, pids - masters


def wait_for_web(var_dir: Path, workers: int, *, not_in: set[int] = frozenset()) -> tuple[int, set]:
    """Wait for one master with `workers` workers, none of them in not_in."""
    deadline = time.monotonic() + START_SECONDS
    masters, found = set(), set()
    while time.monotonic() < deadline:
        masters, found = web_pids(var_dir)
        if len(masters) == 1 and len(found) == workers and not (found | masters) & not_in:
            return next(iter(masters)), found
        time.sleep(0.2)
    raise AssertionError(f"web processes: masters {masters}, workers {found}")


@pytest.mark.slow
@pytest.mark.skipif(not can_fork_servers(), reason="one web process on this system")
def test_several_web_processes_answer_and_any_that_dies_is_replaced(var_dir):
    port = free_port()
    serve = ServeProcess(var_dir, "--port", str(port), "--web-processes", "3")
    try:
        assert wait_healthy(port, serve) == {"status": "ok", "database": "ok", "redis": "ok"}
        serve.wait_for_line("Stop with Ctrl-C")
        master, workers = wait_for_web(var_dir, 3)
        assert _parent(master) == serve.process.pid
        assert [get_health(port)[0] for _ in range(30)] == [200] * 30

        os.kill(min(workers), signal.SIGKILL)  # one web process crashes: its master replaces it
        wait_for_web(var_dir, 3, not_in={min(workers)})
        os.killpg(master, signal.SIGKILL)  # the master and its workers: serve starts them again
        second, _ = wait_for_web(var_dir, 3, not_in={master} | workers)
        assert _parent(second) == serve.process.pid
        serve.wait_for_line("the web processes stopped unexpectedly")
        assert wait_healthy(port, serve)["status"] == "ok"

        assert serve.stop(signal.SIGINT) == 0, serve.output
        assert "Madoguchi stopped." in serve.output
        assert wait_all_gone(var_dir) == []
    finally:
        serve.kill()


_DEMO_BOOKERS = """
import json
from sqlalchemy import select
from madoguchi.db import get_session
from madoguchi.models import Resident
from madoguchi.web_processes import app_for_serve

with app_for_serve(always_open=True).app_context():
    people = get_session().scalars(select(Resident).order_by(Resident.id).limit(60)).all()
    print(json.dumps([[p.resident_no, p.birth_date.isoformat()] for p in people]))
"""


def serve_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment a ServeProcess has (for a helper process reading the same var dir)."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL", "MADOGUCHI_CONFIG"}}
    env.update(MADOGUCHI_VAR_DIR=str(var_dir), MADOGUCHI_CONFIG=str(ROOT / "config.toml"),
               **extra)
    return env


def api(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One call of the booking API on the served app: status and JSON body."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api{path}", method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": "Bearer api-token-for-the-test",
                 "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.mark.slow
@pytest.mark.skipif(not can_fork_servers(), reason="one web process on this system")
def test_bookers_reaching_several_web_processes_at_once_never_overbook_a_slot(var_dir):
    from concurrent.futures import ThreadPoolExecutor

    port = free_port()
    token = {"MADOGUCHI_API_TOKEN": "api-token-for-the-test"}
    serve = ServeProcess(var_dir, "--port", str(port), "--demo", "--no-demo-operator",
                         "--web-processes", "3", env_extra=token)
    try:
        wait_healthy(port, serve)
        serve.wait_for_line("Stop with Ctrl-C")
        wait_for_web(var_dir, 3)
        people = json.loads(subprocess.run(
            [sys.executable, "-c", _DEMO_BOOKERS], env=serve_env(var_dir, **token),
            cwd=var_dir.parent, capture_output=True, text=True, check=True).stdout)
        days = sorted({line["date"] for line in api(port, "GET", "/counts")[1]["days"]})
        status, slots = api(port, "GET", f"/slots?date={days[-1]}")
        assert status == 200, slots
        slot = next(slot for slot in slots if slot["remaining"] > 0)

        def book(person: list[str]) -> tuple[int, dict]:
            return api(port, "POST", "/bookings", {
                "slot_id": slot["id"], "resident_no": person[0], "birth_date": person[1]})

        with ThreadPoolExecutor(len(people)) as pool:
            outcomes = list(pool.map(book, people))
        assert all(status in (201, 409) for status, _ in outcomes), outcomes
        booked = sum(1 for status, _ in outcomes if status == 201)
        after = next(s for s in api(port, "GET", f"/slots?date={days[-1]}")[1]
                     if s["id"] == slot["id"])
        assert booked == slot["remaining"]  # the slot filled exactly: none lost, none over
        assert (after["booked"], after["remaining"]) == (after["capacity"], 0)
        assert "database is locked" not in serve.output
        checked = subprocess.run([str(MADOGUCHI_SCRIPT), "reconcile"],
                                 env=serve_env(var_dir, **token), cwd=var_dir.parent,
                                 capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert serve.stop(signal.SIGTERM) == 0, serve.output
    finally:
        serve.kill()
    assert wait_all_gone(var_dir) == []


@pytest.mark.slow
def test_one_web_process_serves_from_serve_itself(var_dir):
    port = free_port()
    serve = ServeProcess(var_dir, "--port", str(port), "--web-processes", "1")
    try:
        assert wait_healthy(port, serve)["status"] == "ok"
        serve.wait_for_line("Stop with Ctrl-C")
        assert web_pids(var_dir) == (set(), set())
        assert serve.stop(signal.SIGTERM) == 0, serve.output
        assert wait_all_gone(var_dir) == []
    finally:
        serve.kill()


# --- the demo's simulated operator ---------------------------------------------------------

FIRST_CALL_SCRIPT = """\
# A newcomer's first call: 0 for a person, put through, the operator ends the call.
press 0
expect 係の者に、おつなぎします
expect お電話ありがとうございました
"""


def phone_call(var_dir: Path, port: int, script: Path, *,
               real_time: bool = True) -> subprocess.CompletedProcess:
    """`madoguchi phone --script` against a running serve (waiting in real time, or not)."""
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "PUBLIC_BASE_URL"}}
    env.update(MADOGUCHI_VAR_DIR=str(var_dir), MADOGUCHI_CONFIG=str(ROOT / "config.toml"))
    return subprocess.run(
        [str(MADOGUCHI_SCRIPT), "phone", "--url", f"http://127.0.0.1:{port}", "--script",
         str(script), *(["--real-time"] if real_time else [])],
        env=env, cwd=var_dir.parent, capture_output=True, text=True, timeout=180, check=False)


@pytest.mark.slow
def test_a_first_demo_run_puts_a_caller_pressing_0_through_to_the_simulated_operator(var_dir):
    script = var_dir.parent / "first-call.txt"
    script.write_text(FIRST_CALL_SCRIPT, encoding="utf-8")
    port = free_port()
    serve = ServeProcess(var_dir, "--port", str(port), "--demo", "--demo-talk-seconds", "3")
    try:
        wait_healthy(port, serve)
        serve.wait_for_line("Stop with Ctrl-C")
        assert "simulated operator" in serve.output
        for attempt in ("first", "second"):  # the operator is free again for the next caller
            call = phone_call(var_dir, port, script)
            assert call.returncode == 0, f"{attempt} call:\n{call.stdout}\n{call.stderr}"
            assert "script passed" in call.stdout
            assert "connecting to client operator-" in call.stdout
            assert "the operator ended the call" in call.stdout
        assert serve.stop(signal.SIGTERM) == 0, serve.output
    finally:
        serve.kill()
    assert wait_all_gone(var_dir) == []


@pytest.mark.slow
def test_without_the_demo_operator_pressing_0_is_offered_a_callback(var_dir):
    script = var_dir.parent / "no-operator.txt"
    script.write_text("press 0\nexpect 折り返し\nhangup\n", encoding="utf-8")
    port = free_port()
    serve = ServeProcess(var_dir, "--port", str(port), "--demo", "--no-demo-operator")
    try:
        wait_healthy(port, serve)
        serve.wait_for_line("Stop with Ctrl-C")
        assert "simulated operator" not in serve.output
        call = phone_call(var_dir, port, script, real_time=False)
        assert call.returncode == 0, f"{call.stdout}\n{call.stderr}"
        assert "connecting to client operator-" not in call.stdout
        assert serve.stop(signal.SIGTERM) == 0, serve.output
    finally:
        serve.kill()
    assert wait_all_gone(var_dir) == []


# --- how many web processes (no process needed) ---------------------------------------------


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_windows_and_macos_serve_from_one_process(monkeypatch, platform):
    from madoguchi import web_processes

    monkeypatch.setattr(web_processes.sys, "platform", platform)
    assert not web_processes.can_fork_servers()
    assert web_processes.default_web_processes() == 1


def test_linux_serves_from_one_process_per_core_up_to_four(monkeypatch):
    from madoguchi import web_processes

    monkeypatch.setattr(web_processes.sys, "platform", "linux")
    for cores, expected in ((1, 1), (2, 2), (8, 4), (None, 1)):
        monkeypatch.setattr(web_processes.os, "cpu_count", lambda cores=cores: cores)
        assert web_processes.default_web_processes() == expected


@pytest.mark.parametrize(("url", "shared"), [
    ("sqlite:////srv/var/madoguchi.db", True), ("postgresql://db.example/madoguchi", True),
    ("sqlite://", False), ("sqlite:///:memory:", False)])
def test_an_in_memory_database_is_served_from_one_process(url, shared):
    from madoguchi.web_processes import shares_one_database

    assert shares_one_database(url) is shared
