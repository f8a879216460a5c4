"""Server-sent events for the live views: push a view's data when it changes, nothing otherwise.

A stream recomputes its snapshot when the line changes (a Redis pub/sub message published by
`notify_line_changed`) or at the latest every `interval` seconds, and sends it only if it differs
from the last one sent. Streams end after `lifetime` seconds so a web thread is never held for
good; the browser's EventSource reconnects by itself after the `retry` delay it was given.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, stream_with_context
from redis import Redis
from redis.exceptions import RedisError

from madoguchi.db import get_session

log = logging.getLogger(__name__)

CHANNEL = "madoguchi:line-changed"
RETRY_MS = 2000
KEEP_ALIVE_SECONDS = 15.0


def notify_line_changed(redis: Redis) -> None:
    """Tell every open live view that the line or an operator's state changed (best effort)."""
    try:
        redis.publish(CHANNEL, b"1")
    except RedisError:
        log.warning("live views not notified (Redis unreachable); they refresh on their timer")


def _encode(snapshot: Any) -> str:
    return json.dumps(snapshot, ensure_ascii=False, sort_keys=True, default=str)


def event(name: str, data: str) -> str:
    """One SSE message; multi-line data split as the format requires."""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {name}\n{lines}\n"


class _Wakeup:
    """Waits for a line-changed message, or just sleeps when Redis cannot be reached."""

    def __init__(self, redis: Redis | None) -> None:
        self.pubsub = None
        if redis is not None:
            try:
                self.pubsub = redis.pubsub(ignore_subscribe_messages=True)
                self.pubsub.subscribe(CHANNEL)
            except RedisError:
                self.pubsub = None

    def wait(self, seconds: float) -> None:
        if self.pubsub is None:
            time.sleep(seconds)
            return
        try:
            self.pubsub.get_message(timeout=seconds)
        except RedisError:
            self.pubsub = None
            time.sleep(seconds)

    def close(self) -> None:
        if self.pubsub is not None:
            with contextlib.suppress(RedisError):
                self.pubsub.close()


def snapshots(snapshot: Callable[[], Any], redis: Redis | None, *, interval: float = 5.0,
              lifetime: float = 55.0, clock: Callable[[], float] = time.monotonic,
              name: str = "snapshot") -> Iterator[str]:
    """The SSE text of a stream: the first snapshot at once, then each one that differs."""
    wakeup = _Wakeup(redis)
    started = last_sent_at = clock()
    last = None
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while clock() - started < lifetime:
            try:
                current = _encode(snapshot())
            finally:
                # End the read transaction each round: SQLite holds its lock until then and
                # PostgreSQL would otherwise show the same snapshot for the whole stream.
                get_session().rollback()
            if current != last:
                yield event(name, current)
                last, last_sent_at = current, clock()
            elif clock() - last_sent_at >= KEEP_ALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last_sent_at = clock()
            wakeup.wait(interval)
    finally:
        wakeup.close()


def sse_response(snapshot: Callable[[], Any], redis: Redis | None, **options: Any) -> Response:
    """A text/event-stream response running `snapshots` inside the request's context."""
    response = Response(stream_with_context(snapshots(snapshot, redis, **options)),
                        mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx in front must not hold events back
    return response
