"""Login rate limiting: a few failures per username and address, then a pause.

Counters live in Redis so every web process sees them. When Redis cannot be reached the limiter
falls back to a counter inside this process instead of refusing every login: during an outage
the operators must still be able to work, and a per-process limit keeps guessing just as slow
for an attacker reaching that process. The fallback is logged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from redis.exceptions import RedisError

from madoguchi.redis_conn import get_redis

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
KEY_PREFIX = "console:login-failures:"

log = logging.getLogger(__name__)
_local_lock = threading.Lock()
_local_counts: dict[str, tuple[int, float]] = {}


def _key(username: str, ip: str) -> str:
    # Hashed so usernames and addresses are not stored in Redis in clear.
    digest = hashlib.sha256(f"{username.strip().lower()}|{ip}".encode()).hexdigest()
    return KEY_PREFIX + digest


def _local_get(key: str, now: float) -> int:
    with _local_lock:
        count, expires = _local_counts.get(key, (0, 0.0))
        if expires <= now:
            _local_counts.pop(key, None)
            return 0
        return count


def _local_add(key: str, now: float) -> int:
    with _local_lock:
        count, expires = _local_counts.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + WINDOW_SECONDS
        _local_counts[key] = (count + 1, expires)
        return count + 1


def _warn(exc: BaseException) -> None:
    log.warning(
        "login limiter: Redis unreachable (%s); counting in this process", type(exc).__name__
    )


def is_blocked(username: str, ip: str) -> bool:
    """True when this username and address have used up their failed attempts."""
    key = _key(username, ip)
    try:
        raw = get_redis().get(key)
    except (RedisError, RuntimeError, OSError) as exc:
        _warn(exc)
        return _local_get(key, time.time()) >= MAX_FAILURES
    return int(raw or 0) >= MAX_FAILURES or _local_get(key, time.time()) >= MAX_FAILURES


def record_failure(username: str, ip: str) -> int:
    """Count one failed login; the window starts at the first failure. Returns the count."""
    key = _key(username, ip)
    try:
        pipe = get_redis().pipeline()
        pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)
        pipe.incr(key)
        _, count = pipe.execute()
        return int(count)
    except (RedisError, RuntimeError, OSError) as exc:
        _warn(exc)
        return _local_add(key, time.time())


def clear(username: str, ip: str) -> None:
    """Forget the failures after a successful login."""
    key = _key(username, ip)
    with _local_lock:
        _local_counts.pop(key, None)
    try:
        get_redis().delete(key)
    except (RedisError, RuntimeError, OSError) as exc:
        _warn(exc)


def window_minutes() -> int:
    """How long a block lasts, in minutes (for the message)."""
    return WINDOW_SECONDS // 60
