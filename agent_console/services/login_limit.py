"""Login rate limiting: an attempt is counted before its password is checked, then refunded.

Each login attempt first takes a place, atomically, in two counters: one per account (any
address) and one per client address (any account). Only an attempt whose places are both within
the limits is evaluated, so 40 guesses sent at the same moment get at most MAX_ACCOUNT_ATTEMPTS
password checks. A successful login gives its places back; failures keep theirs for the window.

Counters live in Redis (a MULTI transaction of SET NX EX + INCR) so every web process shares
them. When Redis cannot be reached the limiter counts inside this process instead of refusing
every login: during an outage the operators must still be able to work, and a per-process limit
keeps guessing just as slow for an attacker reaching that process. The fallback is logged.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from madoguchi.redis_conn import get_redis

MAX_ACCOUNT_ATTEMPTS = 5
# An office behind one address has many operators; a guesser spraying accounts has one address.
MAX_ADDRESS_ATTEMPTS = 20
WINDOW_SECONDS = 15 * 60
KEY_PREFIX = "console:login-attempts:"

log = logging.getLogger(__name__)
# Give back one place, never below zero (a key that expired meanwhile stays gone).
_GIVE_BACK = """
local value = tonumber(redis.call('GET', KEYS[1]) or '0')
if value > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""
_local_lock = threading.Lock()
_local_counts: dict[str, tuple[int, float]] = {}


@dataclass(frozen=True)
class Attempt:
    """One login attempt's places in the counters, and whether it may be evaluated."""

    account_count: int
    address_count: int

    @property
    def allowed(self) -> bool:
        """True when both counters are within their limits."""
        return (self.account_count <= MAX_ACCOUNT_ATTEMPTS
                and self.address_count <= MAX_ADDRESS_ATTEMPTS)

    @property
    def locks_now(self) -> bool:
        """True for the first attempt refused in this window (the moment of the lockout)."""
        return (self.account_count == MAX_ACCOUNT_ATTEMPTS + 1
                or self.address_count == MAX_ADDRESS_ATTEMPTS + 1)


def _digest(kind: str, value: str) -> str:
    # Hashed so usernames and addresses are not stored in Redis in clear.
    return KEY_PREFIX + kind + ":" + hashlib.sha256(value.encode()).hexdigest()


def _keys(username: str, ip: str) -> tuple[str, str]:
    return _digest("account", username.strip().lower()), _digest("address", ip)


def _local_add(key: str, now: float, amount: int = 1) -> int:
    with _local_lock:
        count, expires = _local_counts.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + WINDOW_SECONDS
        count = max(count + amount, 0)
        _local_counts[key] = (count, expires)
        return count


def _warn(exc: BaseException) -> None:
    log.warning(
        "login limiter: Redis unreachable (%s); counting in this process", type(exc).__name__
    )


def reserve(username: str, ip: str) -> Attempt:
    """Count an attempt for this account and address before its password is looked at."""
    account, address = _keys(username, ip)
    # A second try: a burst of logins can find every pooled connection busy and time out on a
    # new one; counting such an attempt only in this process would let it skip the shared count.
    for tries_left in (1, 0):
        try:
            pipe = get_redis().pipeline(transaction=True)
            for key in (account, address):
                pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)
                pipe.incr(key)
            _, account_count, _, address_count = pipe.execute()
            return Attempt(int(account_count), int(address_count))
        except (RedisError, OSError) as exc:
            if tries_left:
                continue
            _warn(exc)
        except RuntimeError as exc:  # no Redis configured at all
            _warn(exc)
            break
    now = time.time()
    return Attempt(_local_add(account, now), _local_add(address, now))


def succeeded(username: str, ip: str) -> None:
    """A correct password: forget the account's failures and give back the address's place."""
    account, address = _keys(username, ip)
    with _local_lock:
        _local_counts.pop(account, None)
    now = time.time()
    if _local_counts.get(address):
        _local_add(address, now, -1)
    try:
        redis = get_redis()
        redis.delete(account)
        redis.eval(_GIVE_BACK, 1, address)
    except (RedisError, RuntimeError, OSError) as exc:
        _warn(exc)


def window_minutes() -> int:
    """How long a block lasts, in minutes (for the message)."""
    return WINDOW_SECONDS // 60
