"""Outbound call pacing shared by every worker: never more calls a second than configured.

Each dial takes the next free start time from one Redis key, atomically, so workers on any
machine space their calls 1/rate seconds apart (Twilio's default account limit is 1 a second).
A reservation alone is not enough: a worker that wakes late dials late, and the next worker,
on time, would then dial too soon after it. So the moment of dialling is claimed as well,
against the last real dial, with a small margin for the network's jitter on the way to Twilio.
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
# Claim "now" as a dial moment if the last one is at least an interval ago; else say how long
# to wait.
_CLAIM = """
local last = tonumber(redis.call('GET', KEYS[1]) or '')
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
if last ~= nil and now - last < interval then
  return tostring(last + interval - now)
end
redis.call('SET', KEYS[1], tostring(now), 'PX', math.ceil(interval * 1000) + 60000)
return '0'
"""
# Share of the interval added between real dials: the request reaches Twilio a little after
# the claim, by a delay that differs from call to call.
JITTER_MARGIN = 0.05


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
        self.dialled_key = f"{key}:last"
        self.clock = clock
        self.sleep = sleep
        self._reserve = redis.register_script(_RESERVE)
        self._claim = redis.register_script(_CLAIM)

    def reserve(self) -> float:
        """Reserve a start time (epoch seconds) for one call."""
        return float(self._reserve(keys=[self.key], args=[repr(self.clock()), repr(self.interval)]))

    def claim(self) -> float:
        """Claim this moment for a dial: 0 when claimed, else the seconds still to wait."""
        spacing = self.interval * (1 + JITTER_MARGIN)
        return float(self._claim(keys=[self.dialled_key],
                                 args=[repr(self.clock()), repr(spacing)]))

    def wait_turn(self) -> float:
        """Block until this call may start (its turn, then a claimed moment); seconds waited."""
        waited = max(self.reserve() - self.clock(), 0.0)
        if waited:
            self.sleep(waited)
        while (delay := self.claim()) > 0:
            self.sleep(delay)
            waited += delay
        return waited
