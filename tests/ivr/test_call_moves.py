"""A call's moves through the menu: buffered in Redis, written to its row once, never lost."""

from __future__ import annotations

import gc
import json
import threading
import time

import pytest
from redis import Redis
from sqlalchemy import event, select

from madoguchi import call_moves, calls, redis_conn
from madoguchi.models import Call
from tests.ivr.conftest import BASE, Caller, statements_during


@pytest.fixture
def moves_redis(redis_client, monkeypatch) -> Redis:
    """The test Redis, emptied, with the write-through pause of an earlier failure cleared."""
    monkeypatch.setattr(call_moves, "_paused_until", 0.0)
    return redis_client


def _row(db_session, caller: Caller) -> Call:
    db_session.expire_all()
    return db_session.scalar(select(Call).where(Call.call_sid == caller.call_sid))


def _nodes(call: Call) -> list[str]:
    return [entry["node"] for entry in call.path]


def _writes_during(engine, work) -> list[str]:
    return statements_during(engine, work, ("INSERT", "UPDATE", "DELETE"))


def test_answering_the_menu_questions_writes_nothing_to_the_database(
        caller, moves_redis, engine, db_session):
    caller.dial()
    written = _writes_during(engine, lambda: caller.press("1"))  # 日本語: on to the menu
    assert written == []
    assert "ご用件" in caller.doc.text or caller.doc.gather is not None
    # The greeting's move came with the call's row; the answer's is still buffered.
    assert _nodes(_row(db_session, caller)) == ["incoming"]


def test_the_status_callback_writes_the_buffered_route_once_in_order(
        caller, moves_redis, db_session):
    caller.dial()
    caller.press("1")
    caller.press("2")  # the menu: check a booking
    caller.post(f"{BASE}/voice/status", CallStatus="completed", SequenceNumber="5")
    call = _row(db_session, caller)
    assert _nodes(call)[:3] == ["incoming", "language", "menu"]
    assert call.status == "completed"
    assert moves_redis.exists(call_moves.KEY_PREFIX + caller.call_sid) == 0
    caller.post(f"{BASE}/voice/status", CallStatus="completed", SequenceNumber="6")
    assert _nodes(_row(db_session, caller)).count("incoming") == 1


def test_a_step_that_writes_anyway_takes_the_buffered_moves_with_it(
        caller, moves_redis, db_session, app):
    caller.dial()
    caller.press("1")
    call = _row(db_session, caller)
    with app.app_context():
        calls.add_path(db_session, call, "identified")
    assert _nodes(_row(db_session, caller)) == ["incoming", "language", "identified"]


def test_buffered_moves_hold_no_phone_number_nor_digits_and_expire(
        caller, moves_redis):
    caller.dial()
    caller.press("1")
    key = call_moves.KEY_PREFIX + caller.call_sid
    stored = b" ".join(moves_redis.lrange(key, 0, -1)).decode()
    assert [json.loads(item)["node"] for item in moves_redis.lrange(key, 0, -1)] == [
        "language"]
    assert "9012345678" not in stored and "+81" not in stored
    assert 0 < moves_redis.ttl(key) <= call_moves.EXPIRE_SECONDS


def test_when_redis_cannot_take_a_move_it_is_written_to_the_call_at_once(
        caller, moves_redis, app, db_session, monkeypatch):
    unreachable = Redis(host="127.0.0.1", port=9, socket_timeout=0.2,
                        socket_connect_timeout=0.2)
    monkeypatch.setitem(app.extensions, "madoguchi_redis", unreachable)
    caller.dial()
    caller.press("1")
    assert "Gather" in caller.doc.verbs
    assert _nodes(_row(db_session, caller)) == ["incoming", "language"]


def test_the_sweep_writes_the_moves_of_a_call_whose_status_never_came(
        caller, moves_redis, app, db_session):
    caller.dial()
    caller.press("1")
    with app.app_context():
        assert calls.fold_idle_moves(db_session, idle_seconds=3600) == 0
        assert calls.fold_idle_moves(db_session, idle_seconds=0) == 1
    assert _nodes(_row(db_session, caller)) == ["incoming", "language"]
    assert moves_redis.exists(call_moves.KEY_PREFIX + caller.call_sid) == 0


def test_the_greeting_starts_the_route_in_the_insert_and_a_retried_greeting_adds_no_move(
        caller, moves_redis, db_session):
    caller.dial()
    caller.dial()  # Twilio retried /voice/incoming
    assert _nodes(_row(db_session, caller)) == ["incoming"]
    assert moves_redis.exists(call_moves.KEY_PREFIX + caller.call_sid) == 0


def test_a_call_is_recorded_in_one_statement_and_a_retry_records_nothing(db_session, engine):
    made = []
    written = _writes_during(engine, lambda: made.append(calls.record_call(
        db_session, "CA" + "7" * 32, from_raw="090-1234-5678", to_number="+81312345678")))
    again = calls.record_call(db_session, "CA" + "7" * 32, from_raw="090-1234-5678",
                              to_number="+81312345678")
    assert made == [calls.RecordedCall(made=True, number_registered=False)]
    assert again == calls.RecordedCall(made=False, number_registered=None)
    assert len(written) == 1 and written[0].startswith("INSERT INTO calls")
    call = calls.find_call(db_session, "CA" + "7" * 32)
    assert call.from_e164 == "+819012345678" and call.from_digest


def test_moves_folded_twice_at_once_are_written_once(
        caller, moves_redis, app, db_session, monkeypatch):
    caller.dial()
    caller.press("1")
    caller.press("1")
    # The status callback and the sweep both read the buffer before either trimmed it.
    monkeypatch.setattr(call_moves, "settled", lambda *_: None)
    with app.app_context():
        calls.fold_moves(db_session, _row(db_session, caller))
        calls.fold_moves(db_session, _row(db_session, caller))
    nodes = _nodes(_row(db_session, caller))
    assert nodes == ["incoming", "language", "menu"]


def test_a_path_write_keeps_what_another_request_wrote_since_the_call_was_read(
        caller, moves_redis, app, db_session):
    caller.dial()
    status_side = _row(db_session, caller)  # read by one request …
    other = app.extensions["madoguchi_db"].session_factory()
    with app.app_context():
        calls.add_path(other, other.get(Call, status_side.id), "person")  # … another writes …
        calls.add_path(db_session, status_side, "goodbye")  # … and the first writes on
    other.close()
    assert _nodes(_row(db_session, caller)) == ["incoming", "person", "goodbye"]


def test_a_move_buffered_while_another_writer_folded_waits_for_the_next_fold(
        caller, moves_redis, app, db_session, monkeypatch):
    caller.dial()
    caller.press("1")  # 日本語: a move buffered
    with app.app_context():
        seen_by_the_sweep = call_moves.pending(caller.call_sid)
        calls.fold_moves(db_session, _row(db_session, caller))  # the status callback, first
    caller.press("1")  # a later move, buffered after that fold
    real_pending = call_moves.pending
    monkeypatch.setattr(call_moves, "pending", lambda _sid: seen_by_the_sweep)
    with app.app_context():
        calls.fold_moves(db_session, _row(db_session, caller))  # the sweep, on what it read
        monkeypatch.setattr(call_moves, "pending", real_pending)
        assert [move.entry["node"] for move in call_moves.pending(caller.call_sid)] == ["menu"]
        calls.fold_moves(db_session, _row(db_session, caller))
    assert _nodes(_row(db_session, caller)) == ["incoming", "language", "menu"]


def test_the_greetings_insert_is_a_transaction_of_its_own_outside_the_session(
        committed_db, engine):
    # No BEGIN or COMMIT: on PostgreSQL it runs in autocommit, on SQLite as one statement in
    # the writers' turn (madoguchi.db.ONE_STATEMENT); the session is left without one.
    sqlite_ran: list[str] = []
    autocommit_at_insert: list[bool] = []

    def before(conn, _cursor, statement, *_args) -> None:
        if statement.startswith("INSERT INTO calls"):
            autocommit_at_insert.append(bool(getattr(
                conn.connection.dbapi_connection, "autocommit", False)))

    def trace(dbapi_connection, _record, _proxy) -> None:
        dbapi_connection.set_trace_callback(sqlite_ran.append)

    def untrace(dbapi_connection, _record) -> None:
        dbapi_connection.set_trace_callback(None)

    sqlite = engine.dialect.name == "sqlite"
    listeners = [("before_cursor_execute", before)] + (
        [("checkout", trace), ("checkin", untrace)] if sqlite else [])
    for name, listener in listeners:
        event.listen(engine, name, listener)
    session = committed_db()
    try:
        assert calls.record_call(session, "CA" + "6" * 32, from_raw="090-1234-5678",
                                 to_number="+81312345678").made
        assert not session.in_transaction()
    finally:
        for name, listener in listeners:
            event.remove(engine, name, listener)
        session.close()
    if sqlite:
        assert [sql.split()[0] for sql in sqlite_ran] == ["INSERT"]
    else:
        assert autocommit_at_insert == [True]
    with committed_db() as other:
        assert calls.find_call(other, "CA" + "6" * 32).from_e164 == "+819012345678"


def test_after_the_greetings_insert_the_session_is_transactional_again(committed_db, engine):
    # On PostgreSQL the insert runs in autocommit (no BEGIN or COMMIT round trip); what the
    # request does after it must still be undone by a rollback, and the pooled connection
    # must go back as it came.
    session = committed_db()
    sid = "CA" + "8" * 32
    assert calls.record_call(session, sid, from_raw="090-1234-5678",
                             to_number="+81312345678").made
    call = calls.find_call(session, sid)
    calls.set_outcome(session, call, "queued")  # commits: a write after the insert
    call.status = "completed"
    session.flush()
    session.rollback()
    isolation = session.connection().get_isolation_level()
    session.close()
    with committed_db() as other:
        kept = calls.find_call(other, sid)
        assert (kept.outcome, kept.status) == ("queued", "in-progress")
    if engine.dialect.name == "postgresql":
        assert isolation == "READ COMMITTED"


def test_a_move_reaches_a_redis_that_knows_no_script_yet_and_expires_with_the_call(
        app, moves_redis):
    moves_redis.script_flush()  # as after a restart of Redis
    with app.app_context():
        assert call_moves.buffer("CA-fresh", {"node": "menu", "id": 1})
        assert moves_redis.script_exists(call_moves._BUFFER_SHA) == [True]  # kept for next
        assert call_moves.buffer("CA-fresh", {"node": "book", "id": 2})
        assert [move.entry["node"] for move in call_moves.pending("CA-fresh")] == [
            "menu", "book"]
    ttl = moves_redis.ttl(call_moves.KEY_PREFIX + "CA-fresh")
    assert call_moves.EXPIRE_SECONDS - 60 < ttl <= call_moves.EXPIRE_SECONDS



def test_each_thread_buffers_on_a_connection_of_its_own_kept_across_requests(
        app, moves_redis, monkeypatch):
    seen: dict[str, object] = {}

    def buffer_twice(name: str) -> None:
        with app.app_context():
            assert call_moves.buffer("CA-" + name, {"node": "menu", "id": 1})
            first = redis_conn._held.connection
        with app.app_context():  # the thread's next request
            assert call_moves.buffer("CA-" + name, {"node": "book", "id": 2})
            assert redis_conn._held.connection is first is not None
        seen[name] = first

    buffer_twice("main")
    other = threading.Thread(target=buffer_twice, args=("other",))
    other.start()
    other.join()
    assert set(seen) == {"main", "other"} and seen["main"] is not seen["other"]
    # The other thread has ended: its connection went back to the pool.
    other = None
    gc.collect()
    with app.app_context():
        pool = redis_conn.get_redis().connection_pool
    assert seen["other"] in pool._available_connections
    # A process forked from this one must not share the parent's socket: it takes its own,
    # and leaves the parent's out of its copy of the pool.
    monkeypatch.setattr(redis_conn, "getpid", lambda: -1)
    with app.app_context():
        assert call_moves.buffer("CA-main", {"node": "faq", "id": 3})
        assert redis_conn._held.connection is not seen["main"]


def test_a_connection_redis_closed_is_replaced_and_the_move_kept_in_redis(app, moves_redis):
    with app.app_context():
        assert call_moves.buffer("CA-kept", {"node": "menu", "id": 1})
        held = redis_conn._held.connection
        held.send_command("CLIENT", "ID")
        moves_redis.client_kill_filter(_id=held.read_response())  # as a restart would
        assert call_moves.buffer("CA-kept", {"node": "book", "id": 2})
        assert [move.entry["node"] for move in call_moves.pending("CA-kept")] == [
            "menu", "book"]
    assert call_moves._paused_until == 0.0  # no write-through: nothing had failed


def test_a_move_buffered_twice_is_written_to_the_row_once(caller, moves_redis, db_session):
    caller.dial()
    caller.press("1")  # 日本語: the language question's move, buffered
    key = call_moves.KEY_PREFIX + caller.call_sid
    (raw,) = moves_redis.lrange(key, 0, -1)
    moves_redis.rpush(key, raw)  # a push retried after its first try reached Redis
    caller.post(f"{BASE}/voice/status", CallStatus="completed", SequenceNumber="5")
    assert _nodes(_row(db_session, caller)) == ["incoming", "language"]
    assert moves_redis.exists(key) == 0


def test_a_kept_connection_unused_for_a_while_is_checked_before_its_next_move(
        app, moves_redis, monkeypatch):
    # A firewall may drop a connection that sat idle without a word: after the health check's
    # interval, a PING goes first (and a dead connection is found there, not by the move).
    monkeypatch.setattr(redis_conn, "HEALTH_CHECK_SECONDS", 1)
    with app.app_context():
        client = redis_conn.connect(app.extensions["madoguchi_redis_url"])
        monkeypatch.setitem(app.extensions, "madoguchi_redis", client)
        assert call_moves.buffer("CA-idle", {"node": "menu", "id": 1})
        moves_redis.config_resetstat()
        time.sleep(1.2)
        assert call_moves.buffer("CA-idle", {"node": "book", "id": 2})
        # At least: on a shared Redis (REDIS_URL) another client may ping too.
        assert moves_redis.info("commandstats").get("cmdstat_ping", {}).get("calls", 0) >= 1
        assert [move.entry["node"] for move in call_moves.pending("CA-idle")] == ["menu", "book"]
