"""How many Twilio webhooks a web process works on at once; the rest wait their turn in order.

A web process keeps many threads (`madoguchi serve` 48), because each operator's live view
holds one while it is open. In a surge every one of them may be working on a webhook, and
they share one interpreter: each answer then takes as long as its share of it allows, and the
slowest answers grow long while the machine does no more work. A few webhooks at a time, let in
in the order they came, are each answered sooner: on the embedded default at 50 webhooks at
once, the slowest 1 % of greetings came 10-21 % sooner (bench/README.md, ninth round).
A webhook that waited its turn longer than WAIT_SECONDS goes on without one: a caller is never
refused for being in line.
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

# Enough to keep both cores busy while some wait on the database or Redis; few enough that
# those let in are not slowed by the rest.
WEBHOOKS_AT_ONCE = 4
WAIT_SECONDS = 5.0
# One warning in this many seconds when webhooks go on without a turn (a long surge).
WARN_EVERY_SECONDS = 60.0

_turns: FairTurns | None = None
_turns_pid = 0
_turns_guard = threading.Lock()
_in_turn = threading.local()
_warned_at = float("-inf")


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
    if getattr(_in_turn, "held", False):
        yield
        return
    turns = process_turns()
    had = turns.acquire(timeout=WAIT_SECONDS)
    if not had:
        _warn_once_a_while(turns.waiting)
    _in_turn.held = True
    try:
        yield
    finally:
        _in_turn.held = False
        if had:
            turns.release()


def _warn_once_a_while(waiting: int) -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at >= WARN_EVERY_SECONDS:
        _warned_at = now
        log.warning("a webhook waited %.0f s for its turn and went on without one (%d waiting):"
                    " the web processes are overloaded", WAIT_SECONDS, waiting)
