"""The app's Redis connections: a read on a connection already closed fails as a Redis error."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError

from madoguchi import redis_conn


@pytest.mark.parametrize("url, kind", [
    ("redis://127.0.0.1:6379/15", redis_conn.TcpConnection),
    ("rediss://127.0.0.1:6380/15", redis_conn.TlsConnection),
    ("unix:///run/redis.sock?db=15", redis_conn.UnixSocketConnection),
])
def test_every_kind_of_address_gets_a_connection_whose_closed_reads_fail_cleanly(url, kind):
    pool = redis_conn.connect(url).connection_pool
    assert pool.connection_class is kind
    assert issubclass(kind, redis_conn.ClosedReadFails)


@pytest.fixture
def pinged(redis_url) -> Iterator[Connection]:
    """A connection of the app's client that has sent a PING and not yet read the reply."""
    client = redis_conn.connect(redis_url)
    connection = client.connection_pool.get_connection()
    connection.send_command("PING")
    yield connection
    connection.disconnect()
    client.connection_pool.release(connection)
    client.close()


def test_a_read_after_redis_py_closed_the_connection_is_a_connection_error(pinged):
    # What redis-py does when a handshake reply comes late: the connection is closed (its
    # parser's buffer dropped), and then read from once more.
    pinged.disconnect()
    with pytest.raises(RedisConnectionError, match="closed before a read"):
        pinged.read_response()


def test_a_read_whose_parser_was_dropped_under_it_is_a_connection_error(pinged):
    pinged._parser._buffer = None  # closed by another path while the socket stays
    with pytest.raises(RedisConnectionError, match="closed during a read"):
        pinged.read_response()


def test_any_other_attribute_error_in_a_read_stays_a_bug(pinged, monkeypatch):
    def broken(*args, **kwargs):
        raise AttributeError("'Parser' object has no attribute 'missing'", obj=object())

    monkeypatch.setattr(pinged._parser, "read_response", broken)
    with pytest.raises(AttributeError, match="missing"):
        pinged.read_response()


def test_the_worker_connects_the_same_way(redis_url):
    from madoguchi.worker import connect_worker_redis

    client = connect_worker_redis(redis_url)
    try:
        assert issubclass(client.connection_pool.connection_class, redis_conn.ClosedReadFails)
        assert client.connection_pool.connection_kwargs["protocol"] == redis_conn.RESP_VERSION
        assert client.ping() is True
    finally:
        client.close()


def test_an_open_connection_still_reads_its_replies(redis_url):
    client = redis_conn.connect(redis_url)
    try:
        assert client.ping() is True
        assert client.connection_pool.connection_kwargs["protocol"] == redis_conn.RESP_VERSION
    finally:
        client.close()
