"""Browser tests: a real server process (waitress + create_app) and Chromium via Playwright.

Chromium is found wherever the distribution puts it (chromium, chromium-browser, google-chrome
on the PATH, or MADOGUCHI_CHROMIUM); without one every browser test is skipped, saying what to
install (Debian/Ubuntu: apt-get install chromium). Set SAVE_SCREENSHOTS=1 to refresh
docs/screenshots/ from the journeys.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def find_chromium() -> Path | None:
    """The Chromium (or Chrome) executable: MADOGUCHI_CHROMIUM, else the first on the PATH."""
    chosen = os.environ.get("MADOGUCHI_CHROMIUM")
    if chosen:
        return Path(chosen)
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


CHROMIUM = find_chromium()
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"  # every browser test's users have this one
SERVER_START_SECONDS = 30

# The line is open around the clock here, as in the demo city: callers reach the operators.
SERVER_CODE = """
import sys
from waitress import serve
from madoguchi import create_app
from madoguchi.serve import open_all_hours
from madoguchi.settings import load_settings
app = create_app(open_all_hours(load_settings()))
serve(app, host="127.0.0.1", port=int(sys.argv[1]), threads=16, _quiet=True)
"""


class HundredfoldClock:
    """Simulated time that passes at a hundredth of its length, so a browser keeps up."""

    def __init__(self) -> None:
        self._now = 0.0

    def now(self) -> float:
        """Seconds of simulated time."""
        return self._now

    def wait(self, seconds: float, interrupted) -> None:
        """Let simulated seconds pass in a hundredth of the time, waking for outside orders."""
        deadline = time.monotonic() + min(seconds / 100, 0.2)
        while not interrupted() and time.monotonic() < deadline:
            time.sleep(0.02)
        self._now += max(seconds, 0.0)


def log_in(page, username: str, *, lands_on: str | None = None) -> None:
    """Sign in through the login form; wait for the page it lands on (lands_on: a URL glob)."""
    page.goto("/console/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(lands_on or (lambda url: "/console/login" not in url))


def pytest_collection_modifyitems(items):
    """Mark every test here as a browser test, and skip them all without Chromium."""
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if CHROMIUM is None or not CHROMIUM.exists():
                item.add_marker(pytest.mark.skip(
                    reason="no Chromium found for the browser tests: install it (Debian/Ubuntu: "
                           "apt-get install -y chromium) or set MADOGUCHI_CHROMIUM to its path"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the test server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 (our own loopback server)
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the test server did not answer {url} within {SERVER_START_SECONDS}s")


@contextmanager
def serving(base_env: dict[str, str], extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """A waitress process serving create_app() on a free loopback port; yields its address."""
    port = _free_port()
    address = f"http://127.0.0.1:{port}"
    # Plain http on loopback: the session cookie must not be marked Secure here.
    env = {**os.environ, **base_env, **(extra_env or {}), "PUBLIC_BASE_URL": address}
    process = subprocess.Popen([sys.executable, "-c", SERVER_CODE, str(port)], cwd=ROOT, env=env)
    try:
        _wait_until_up(f"{address}/console/login", process)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def live_server(base_env, engine):
    """The address of a waitress process serving create_app() on a free loopback port."""
    with serving(base_env) as address:
        yield address


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser tab (its own cookies) opened on the server."""
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900},
                                  locale="ja-JP")
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    yield tab
    context.close()


@pytest.fixture
def screenshot(tmp_path):
    """Save a full-page screenshot: to docs/screenshots when SAVE_SCREENSHOTS=1, else tmp."""
    folder = ROOT / "docs" / "screenshots" if os.environ.get("SAVE_SCREENSHOTS") else tmp_path

    def take(tab, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        return path

    return take
