"""Server-sent events for the live views: push a view's data when it changes, nothing otherwise.

A stream recomputes its snapshot when the line changes (a Redis pub/sub message published by
`madoguchi.events.notify_line_changed`) or at the latest every `interval` seconds, and sends
it only if it differs from the last one sent. Streams end after `lifetime` seconds so a web
thread is never held for good; the browser's EventSource reconnects by itself after the `retry`
delay it was given.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Response, stream_with_context
from redis import Redis

from madoguchi.db import get_session
from madoguchi.events import LineChangeListener

log = logging.getLogger(__name__)

RETRY_MS = 2000
KEEP_ALIVE_SECONDS = 15.0


def _encode(snapshot: Any) -> str:
    return json.dumps(snapshot, ensure_ascii=False, sort_keys=True, default=str)


def event(name: str, data: str) -> str:
    """One SSE message; multi-line data split as the format requires."""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {name}\n{lines}\n"


def snapshots(snapshot: Callable[[], Any], redis: Redis | None, *, interval: float = 5.0,
              lifetime: float = 55.0, clock: Callable[[], float] = time.monotonic,
              name: str = "snapshot") -> Iterator[str]:
    """The SSE text of a stream: the first snapshot at once, then each one that differs."""
    wakeup = LineChangeListener(redis)
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
