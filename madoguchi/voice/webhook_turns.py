"""How many Twilio webhooks a web process works on at once; the rest wait their turn in order.

A web process keeps many threads (`madoguchi serve` 48), because each operator's live view
holds one while it is open. In a surge every one of them may be working on a webhook, and
they share one interpreter: each answer then takes as long as its share of it allows, and the
slowest answers grow long while the machine does no more work. A few webhooks at a time, let in
in the order they came, are each answered sooner: on the embedded default at 50 webhooks at
once, the slowest 1 % of greetings came 10-21 % sooner (bench/README.md, ninth round).

A turn is for working, not for waiting: a webhook that waits on something slow (Twilio's API,
another process's write to the SQLite file) lets the next one in meanwhile (let_others_on).
One that waited WAIT_SECONDS for its turn goes on without it: a caller is never refused.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from madoguchi.fair_turns import FairTurns

log = logging.getLogger(__name__)

# A few, so that while some wait on the database or Redis others use the interpreter; not so
# many that those let in are slowed by the rest (4 and 8 measured alike, 16 as bad as none).
WEBHOOKS_AT_ONCE = 4
WAIT_SECONDS = 5.0
# In a long surge every webhook might go on without a turn: one warning a minute says so.
WARN_EVERY_SECONDS = 60.0

_turns: FairTurns | None = None
_turns_pid = 0
_turns_guard = threading.Lock()
_warned_at = float("-inf")


class _ThreadState(threading.local):
    in_webhook = False  # inside webhook_turn (a nested one goes on as it is)
    holds = False  # holding one of the process's turns now


_this_thread = _ThreadState()


def process_turns() -> FairTurns:
    """This process's turns (each process makes its own: a fork copies whatever was held)."""
    global _turns, _turns_pid
    with _turns_guard:
        if _turns is None or _turns_pid != os.getpid():
            _turns, _turns_pid = FairTurns(WEBHOOKS_AT_ONCE), os.getpid()
        return _turns


@contextmanager
def webhook_turn() -> Iterator[None]:
    """Work on a webhook in its turn (a webhook of this thread already in its turn goes on)."""
    if _this_thread.in_webhook:
        yield
        return
    _this_thread.in_webhook = True
    _this_thread.holds = _take_turn()
    try:
        yield
    finally:
        if _this_thread.holds:
            process_turns().release()
        _this_thread.in_webhook = _this_thread.holds = False


@contextmanager
def let_others_on(*, take_again: bool = True) -> Iterator[None]:
    """While this webhook waits on something slow, its turn goes to the next in line.

    take_again: wait in line for a turn afterwards. A webhook that comes back holding
    something others wait for (SQLite's writers' turn) goes on without one instead, or those
    others would wait on the webhooks' line too.
    """
    if not _this_thread.holds:
        yield
        return
    process_turns().release()
    _this_thread.holds = False
    try:
        yield
    finally:
        if take_again:
            _this_thread.holds = _take_turn()


def _take_turn() -> bool:
    turns = process_turns()
    if turns.acquire(timeout=WAIT_SECONDS):
        return True
    _warn_once_a_while(turns.waiting)
    return False


def _warn_once_a_while(waiting: int) -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= WARN_EVERY_SECONDS:
        _warned_at = now
        log.warning("a webhook waited %.0f s for its turn and went on without one (%d waiting):"
                    " the web processes are overloaded", WAIT_SECONDS, waiting)
