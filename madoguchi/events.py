"""Line events: "the line changed" published on Redis, and a listener that waits for it.

The line (call_queue) publishes when a caller joins or leaves, an operator's state changes or an
alert is raised; the console's live views subscribe. Both sides meet here, in the core, so the line
never imports the console.
"""

from __future__ import annotations

import contextlib
import logging
import time

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

LINE_CHANGED_CHANNEL = "madoguchi:line-changed"


def notify_line_changed(redis: Redis) -> None:
    """Tell every open live view that the line or an operator's state changed (best effort)."""
    try:
        redis.publish(LINE_CHANGED_CHANNEL, b"1")
    except RedisError:
        log.warning("live views not notified (Redis unreachable); they refresh on their timer")


class LineChangeListener:
    """Waits for a line-changed message, or just sleeps when Redis cannot be reached."""

    def __init__(self, redis: Redis | None) -> None:
        self.pubsub = None
        if redis is not None:
            try:
                self.pubsub = redis.pubsub(ignore_subscribe_messages=True)
                self.pubsub.subscribe(LINE_CHANGED_CHANNEL)
            except RedisError:
                self.pubsub = None

    def wait(self, seconds: float) -> None:
        """Return when the line changed, or after `seconds` at the latest."""
        if self.pubsub is None:
            time.sleep(seconds)
            return
        try:
            self.pubsub.get_message(timeout=seconds)
        except RedisError:
            self.pubsub = None
            time.sleep(seconds)

    def close(self) -> None:
        """Stop listening."""
        if self.pubsub is not None:
            with contextlib.suppress(RedisError):
                self.pubsub.close()
