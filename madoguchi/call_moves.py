"""A call's moves through the menu, buffered in Redis and written to its row once.

A step that only moves the caller through the menu (an answer, a re-prompt) must not cost a
database write: its path entry goes to a Redis list per CallSid instead. The list is folded
into the call's row by the next write that happens anyway (joining the line, a booking, a
callback request), by the status callback at the end of the call, or by the sweep for a call
whose status never came. When Redis cannot take an entry it is written through to the row, as
before. Entries hold only step names and what kind of answer came (a key, "10 digits",
"speech", "silence"): never a phone number, never what the caller said or keyed in as digits.
Each list expires, so an entry that is never folded does not stay in Redis.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from flask import current_app, has_app_context
from redis import Redis
from redis.connection import Connection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError

from madoguchi.redis_conn import drop_held_connection, get_redis, held_connection

log = logging.getLogger(__name__)

KEY_PREFIX = "madoguchi:callmoves:"
# Twilio's longest call is 4 hours; a day leaves the sweep ample time and still expires.
EXPIRE_SECONDS = 24 * 3600
# After a Redis failure, write through for this long instead of waiting on Redis every step.
PAUSE_AFTER_FAILURE_SECONDS = 10.0
_paused_until = 0.0
# RPUSH and EXPIRE in one round trip with one reply (a pipeline reads two).
_BUFFER_SCRIPT = ("redis.call('RPUSH', KEYS[1], ARGV[1]) "
                  "return redis.call('EXPIRE', KEYS[1], ARGV[2])")
_BUFFER_SHA = hashlib.sha1(_BUFFER_SCRIPT.encode(), usedforsecurity=False).hexdigest()


def _key(call_sid: str) -> str:
    return KEY_PREFIX + call_sid


def _client() -> Redis | None:
    """The app's Redis, or None outside an app, without one, or just after a failure."""
    if not has_app_context() or time.monotonic() < _paused_until:
        return None
    if not current_app.extensions.get("madoguchi_redis_url"):
        return None
    return get_redis()


def _failed(action: str, call_sid: str, error: RedisError) -> None:
    global _paused_until
    _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_SECONDS
    log.warning("call moves of %s: Redis failed on %s (%s: %s); writing through for %.0f s",
                call_sid, action, type(error).__name__, error, PAUSE_AFTER_FAILURE_SECONDS)


def buffer(call_sid: str, entry: dict[str, Any]) -> bool:
    """Keep a path entry in Redis; False when it must be written to the row instead."""
    client = _client()
    if client is None:
        return False
    text = json.dumps(entry, separators=(",", ":"))
    key = _key(call_sid)
    for last_try in (False, True):
        try:
            _push(held_connection(client), key, text)
            return True
        except RedisConnectionError as error:
            drop_held_connection()
            # Closed since its last command (Redis restarted, or dropped an idle client), which
            # the pool would have noticed at checkout: once more on a new connection. Should
            # the first try have reached Redis after all, the entry's id keeps it once.
            if last_try:
                _failed("buffer", call_sid, error)
        except RedisError as error:
            drop_held_connection()
            _failed("buffer", call_sid, error)
            return False
        except BaseException:
            drop_held_connection()  # cut off mid-command: what is left on it is unknown
            raise
    return False


def _push(connection: Connection, key: str, text: str) -> None:
    """RPUSH and EXPIRE in one round trip on the thread's own connection (held_connection)."""
    try:
        connection.send_command("EVALSHA", _BUFFER_SHA, 1, key, text, EXPIRE_SECONDS)
        connection.read_response()
    except NoScriptError:
        # A Redis new or restarted knows no script yet: EVAL runs it and keeps it.
        connection.send_command("EVAL", _BUFFER_SCRIPT, 1, key, text, EXPIRE_SECONDS)
        connection.read_response()


class Buffered(NamedTuple):
    """A buffered move: its entry, and its text exactly as Redis keeps it."""

    entry: dict[str, Any]
    raw: bytes


def pending(call_sid: str) -> list[Buffered]:
    """The buffered moves of a call, oldest first ([] when none or Redis cannot answer)."""
    client = _client()
    if client is None:
        return []
    try:
        raw = client.lrange(_key(call_sid), 0, -1)
    except RedisError as error:
        _failed("read", call_sid, error)
        return []
    return [Buffered(json.loads(item), item) for item in raw]


def settled(call_sid: str, written: list[Buffered]) -> None:
    """Drop exactly these moves, now in the row (moves buffered since stay)."""
    # By value, not by position: a move buffered after another writer trimmed the ones it
    # wrote would otherwise be cut from the head unwritten. Each entry has its own id.
    client = _client()
    if client is None or not written:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for move in written:
            pipe.lrem(_key(call_sid), 1, move.raw)
        pipe.execute()
    except RedisError as error:
        # Folded twice at worst: the row keeps each id once, the list expires.
        _failed("settle", call_sid, error)


def idle_calls(idle_seconds: float, limit: int = 500) -> list[str]:
    """CallSids whose latest buffered move is older than idle_seconds (for the sweep)."""
    client = _client()
    if client is None:
        return []
    cutoff = datetime.now(UTC) - timedelta(seconds=idle_seconds)
    idle = []
    try:
        for key in client.scan_iter(match=KEY_PREFIX + "*", count=1000):
            last = client.lindex(key, -1)
            if last is not None and _moment(json.loads(last)) < cutoff:
                name = key.decode() if isinstance(key, bytes) else key
                idle.append(name.removeprefix(KEY_PREFIX))
                if len(idle) >= limit:
                    break
    except RedisError as error:
        _failed("sweep", "-", error)
    return idle


def forget(call_sid: str) -> None:
    """Drop a call's buffered moves (its call is unknown, so nothing can keep them)."""
    client = _client()
    if client is not None:
        try:
            client.delete(_key(call_sid))
        except RedisError as error:
            _failed("forget", call_sid, error)


def _moment(entry: dict[str, Any]) -> datetime:
    try:
        moment = datetime.fromisoformat(entry.get("at", ""))
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
