"""Outbound call pacing shared by every worker: never more calls a second than configured.

Each dial takes the next free start time from one Redis key, atomically, so workers on any
machine space their calls 1/rate seconds apart (Twilio's default account limit is 1 a second).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from redis import Redis

# Reserve the next start time: max(now, next free), then push next free on by one interval.
_RESERVE = """
local free = tonumber(redis.call('GET', KEYS[1]) or '0')
local now = tonumber(ARGV[1])
local start = math.max(now, free)
local next_free = start + tonumber(ARGV[2])
local keep_ms = math.ceil((next_free - now) * 1000) + 60000
redis.call('SET', KEYS[1], tostring(next_free), 'PX', keep_ms)
return tostring(start)
"""


class OutboundPacer:
    """Hands out start times for outbound calls at most `calls_per_second` apart."""

    def __init__(self, redis: Redis, calls_per_second: float,
                 key: str = "madoguchi:pacing:outbound",
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if calls_per_second <= 0:
            raise ValueError("calls_per_second must be positive, e.g. 1 (Twilio's default)")
        self.interval = 1.0 / calls_per_second
        self.key = key
        self.clock = clock
        self.sleep = sleep
        self._reserve = redis.register_script(_RESERVE)

    def reserve(self) -> float:
        """Reserve a start time (epoch seconds) for one call."""
        return float(self._reserve(keys=[self.key], args=[repr(self.clock()), repr(self.interval)]))

    def wait_turn(self) -> float:
        """Block until this call may start; returns the seconds waited."""
        delay = max(self.reserve() - self.clock(), 0.0)
        if delay:
            self.sleep(delay)
        return delay
