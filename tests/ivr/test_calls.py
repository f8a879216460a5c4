"""Call records: one row per CallSid, outcomes that only get stronger, steps done once."""

from __future__ import annotations

from madoguchi import calls


def test_a_call_is_recorded_once_per_call_sid_with_its_number_in_e164(db_session):
    first = calls.start_call(db_session, "CA1", from_raw="090-1234-5678", to_number="+8131")
    again = calls.start_call(db_session, "CA1", from_raw="090-1234-5678", to_number="+8131")
    assert first.id == again.id
    assert first.from_e164 == "+819012345678"


def test_a_withheld_caller_is_recorded_without_a_number(db_session):
    call = calls.start_call(db_session, "CA2", from_raw="+266696687", to_number=None)
    assert call.from_e164 is None


def test_a_weaker_outcome_never_hides_a_stronger_one(db_session):
    call = calls.start_call(db_session, "CA3", from_raw=None, to_number=None)
    calls.set_outcome(db_session, call, "booked")
    calls.set_outcome(db_session, call, "self_served")
    assert call.outcome == "booked"
    calls.set_outcome(db_session, call, "abandoned")
    assert call.outcome == "booked"


def test_a_step_is_done_once_and_a_retry_gets_the_first_result(db_session):
    call = calls.start_call(db_session, "CA4", from_raw=None, to_number=None)
    runs = []

    def work() -> dict:
        runs.append(1)
        return {"run": len(runs)}

    assert calls.once(db_session, call, "hold:abc", work) == {"run": 1}
    assert calls.once(db_session, call, "hold:abc", work) == {"run": 1}
    assert calls.once(db_session, call, "hold:def", work) == {"run": 2}


def test_kept_values_can_be_changed_and_forgotten(db_session):
    call = calls.start_call(db_session, "CA5", from_raw=None, to_number=None)
    calls.remember(db_session, call, "birth", {"date": "1948-05-17"})
    calls.remember(db_session, call, "birth", {"date": "1948-05-18"})
    assert calls.recall(db_session, call, "birth") == {"date": "1948-05-18"}
    calls.forget(db_session, call, "birth")
    assert calls.recall(db_session, call, "birth") is None


def test_a_status_callback_for_an_unseen_call_still_leaves_a_row(db_session):
    call = calls.apply_status(db_session, "CA6", status="completed", sequence=0,
                              duration_seconds=5, from_raw="Anonymous")
    assert (call.status, call.outcome, call.duration_seconds) == ("completed", "abandoned", 5)


def test_the_path_is_capped_so_a_looping_call_cannot_grow_without_bound(db_session):
    call = calls.start_call(db_session, "CA7", from_raw=None, to_number=None)
    for _ in range(calls.MAX_PATH_ENTRIES + 20):
        calls.add_path(db_session, call, "menu", "silence")
    assert len(call.path) == calls.MAX_PATH_ENTRIES
