"""Operator states in Redis, seen at once by every web process and worker.

An operator is offline, available, on a call, in wrap-up (after-call work) or away. Available
operators sit in a sorted set scored by when they became free, so the one who has waited longest
takes the next caller. Wrap-up ends by itself: its end time is stored and expired wrap-ups are
moved to available whenever the board is read. The database keeps the same states (written by
the caller of this module) so the board can be rebuilt after Redis restarts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis

STATES = ("offline", "available", "on_call", "wrap_up", "away")
ON_DUTY = ("available", "on_call", "wrap_up")

# Claim the longest-idle available operator and mark them on a call, atomically.
_CLAIM = """
local popped = redis.call('ZPOPMIN', KEYS[1])
if #popped == 0 then return false end
local id = popped[1]
redis.call('HSET', KEYS[2] .. id, 'state', 'on_call', 'since', ARGV[1], 'until', '')
return id
"""
# Move wrap-ups whose time is up into the available set.
_RELEASE_WRAP_UPS = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local ends = redis.call('HGET', KEYS[3] .. id, 'until')
  redis.call('HSET', KEYS[3] .. id, 'state', 'available', 'since', ends, 'until', '')
  redis.call('ZADD', KEYS[2], ends, id)
end
return #due
"""

# set_state, only while the operator is still in the state read before (same state, same since:
# every claim and every change writes a new since). KEYS: available, wrap-up, members, state.
# ARGV: expected state, expected since, new state, now, until ('' unless wrap-up), operator id.
_SET_IF_UNCHANGED = """
local state = redis.call('HGET', KEYS[4], 'state')
local since = tonumber(redis.call('HGET', KEYS[4], 'since') or '')
if state ~= ARGV[1] or since == nil or math.abs(since - tonumber(ARGV[2])) > 0.000002 then
  return 0
end
local id = ARGV[6]
redis.call('ZREM', KEYS[1], id)
redis.call('ZREM', KEYS[2], id)
redis.call('HSET', KEYS[4], 'state', ARGV[3], 'since', ARGV[4], 'until', ARGV[5])
redis.call('SADD', KEYS[3], id)
if ARGV[3] == 'available' then redis.call('ZADD', KEYS[1], ARGV[4], id) end
if ARGV[3] == 'wrap_up' then redis.call('ZADD', KEYS[2], ARGV[5], id) end
return 1
"""


@dataclass(frozen=True)
class OperatorState:
    """One operator's state and since when."""

    operator_id: int
    state: str
    since: datetime
    until: datetime | None = None


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _dt(value: bytes | str | None) -> datetime | None:
    if value in (None, b"", ""):
        return None
    return datetime.fromtimestamp(float(value), UTC)


def _check(state: str, until: datetime | None) -> None:
    if state not in STATES:
        raise ValueError(f"unknown operator state {state!r}; expected one of {STATES}")
    if state == "wrap_up" and until is None:
        raise ValueError("wrap-up needs the time it ends")


class OperatorBoard:
    """Operator states kept in Redis under one key prefix."""

    def __init__(self, redis: Redis, prefix: str = "madoguchi:ops") -> None:
        self.redis = redis
        self.available_key = f"{prefix}:available"
        self.wrap_up_key = f"{prefix}:wrap_up"
        self.members_key = f"{prefix}:members"
        self.state_prefix = f"{prefix}:state:"
        self._claim = redis.register_script(_CLAIM)
        self._release = redis.register_script(_RELEASE_WRAP_UPS)
        self._set_if_unchanged = redis.register_script(_SET_IF_UNCHANGED)

    def set_state(self, operator_id: int, state: str, now: datetime,
                  until: datetime | None = None) -> OperatorState:
        """Put an operator into a state; wrap-up needs `until`, when it ends by itself."""
        _check(state, until)
        key = f"{self.state_prefix}{operator_id}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(self.available_key, operator_id)
        pipe.zrem(self.wrap_up_key, operator_id)
        pipe.hset(key, mapping={"state": state, "since": _ts(now),
                                "until": _ts(until) if until else ""})
        pipe.sadd(self.members_key, operator_id)
        if state == "available":
            pipe.zadd(self.available_key, {operator_id: _ts(now)})
        elif state == "wrap_up":
            pipe.zadd(self.wrap_up_key, {operator_id: _ts(until)})
        pipe.execute()
        return OperatorState(operator_id, state, now, until if state == "wrap_up" else None)

    def set_state_if_unchanged(self, expected: OperatorState, state: str, now: datetime,
                               until: datetime | None = None) -> bool:
        """set_state, only while the operator is as `expected` was read; True if changed."""
        _check(state, until)
        changed = self._set_if_unchanged(
            keys=[self.available_key, self.wrap_up_key, self.members_key,
                  f"{self.state_prefix}{expected.operator_id}"],
            args=[expected.state, _ts(expected.since), state, _ts(now),
                  _ts(until) if until and state == "wrap_up" else "", expected.operator_id])
        return bool(changed)

    def release_wrap_ups(self, now: datetime) -> int:
        """Make operators whose wrap-up has ended available; returns how many."""
        return int(self._release(keys=[self.wrap_up_key, self.available_key, self.state_prefix],
                                 args=[_ts(now)]))

    def claim_next_available(self, now: datetime) -> int | None:
        """Take the longest-idle available operator for a call (atomic across processes)."""
        self.release_wrap_ups(now)
        claimed = self._claim(keys=[self.available_key, self.state_prefix], args=[_ts(now)])
        return int(claimed) if claimed else None

    def get(self, operator_id: int) -> OperatorState:
        """The operator's state (offline when never seen)."""
        raw = self.redis.hgetall(f"{self.state_prefix}{operator_id}")
        if not raw:
            return OperatorState(operator_id, "offline", datetime.fromtimestamp(0, UTC))
        return OperatorState(
            operator_id,
            raw[b"state"].decode(),
            _dt(raw[b"since"]) or datetime.fromtimestamp(0, UTC),
            _dt(raw.get(b"until")),
        )

    def all(self, now: datetime) -> list[OperatorState]:
        """Every known operator's state, wrap-ups that ended counted as available."""
        self.release_wrap_ups(now)
        ids = sorted(int(member) for member in self.redis.smembers(self.members_key))
        return [self.get(operator_id) for operator_id in ids]

    def available_ids(self, now: datetime) -> list[int]:
        """Available operators, longest idle first."""
        self.release_wrap_ups(now)
        return [int(member) for member in self.redis.zrange(self.available_key, 0, -1)]

    def counts(self, now: datetime) -> dict[str, int]:
        """How many operators are in each state."""
        tally = dict.fromkeys(STATES, 0)
        for state in self.all(now):
            tally[state.state] += 1
        return tally

    def on_duty(self, now: datetime) -> int:
        """Operators who will take calls: available, on a call or in wrap-up."""
        counts = self.counts(now)
        return sum(counts[state] for state in ON_DUTY)

    def rebuild(self, states: Iterable[OperatorState]) -> None:
        """Replace the board with states read from the database (after a Redis restart)."""
        pipe = self.redis.pipeline(transaction=True)
        for member in self.redis.smembers(self.members_key):
            pipe.delete(f"{self.state_prefix}{int(member)}")
        pipe.delete(self.available_key, self.wrap_up_key, self.members_key)
        pipe.execute()
        for state in states:
            self.set_state(state.operator_id, state.state, state.since, state.until)

    def is_empty(self) -> bool:
        """True when Redis holds no operator at all (e.g. it restarted empty)."""
        return not self.redis.exists(self.members_key)
