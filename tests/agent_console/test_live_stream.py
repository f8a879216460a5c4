"""The live views' event stream: first snapshot at once, changes only, woken by the line."""

import json
import threading

from agent_console.live_stream import event, snapshots
from madoguchi.events import notify_line_changed


class FakeClock:
    """A clock that moves only when the stream waits."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _payloads(chunks):
    return [json.loads(chunk.split("data: ", 1)[1]) for chunk in chunks
            if chunk.startswith("event: snapshot")]


def test_a_stream_sends_the_first_snapshot_and_then_only_changes(app, redis_client):
    values = iter([{"holding": 1}, {"holding": 1}, {"holding": 2}, {"holding": 2}])
    clock = FakeClock()

    def snapshot():
        clock.now += 1
        return next(values)

    with app.test_request_context():
        chunks = list(snapshots(snapshot, None, interval=0.0, lifetime=4, clock=clock))
    assert chunks[0] == "retry: 2000\n\n"
    assert _payloads(chunks) == [{"holding": 1}, {"holding": 2}]


def test_a_stream_ends_after_its_lifetime_so_no_thread_is_held_for_good(app):
    clock = FakeClock()

    def snapshot():
        clock.now += 10
        return {}

    with app.test_request_context():
        chunks = list(snapshots(snapshot, None, interval=0.0, lifetime=30, clock=clock))
    assert len(_payloads(chunks)) == 1
    assert any(chunk.startswith(": keep-alive") for chunk in chunks)


def test_a_line_change_wakes_a_waiting_stream_long_before_its_timer(app, redis_client):
    seen = []
    woke = threading.Event()

    def snapshot():
        seen.append(1)
        if len(seen) == 2:
            woke.set()
        return {"n": len(seen)}

    def run():
        with app.test_request_context():
            for _ in snapshots(snapshot, redis_client, interval=30.0, lifetime=1e9):
                if woke.is_set():
                    break

    reader = threading.Thread(target=run, daemon=True)
    reader.start()
    for _ in range(50):
        notify_line_changed(redis_client)
        if woke.wait(0.1):
            break
    assert woke.is_set(), "the stream slept through a line change"
    notify_line_changed(redis_client)
    reader.join(5)


def test_multi_line_data_is_split_into_data_fields():
    assert event("x", "a\nb") == "event: x\ndata: a\ndata: b\n\n"
