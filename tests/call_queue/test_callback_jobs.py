"""Callback attempts: dialled exactly once, retried when unanswered, reported when unreached."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from call_queue import callback_jobs, job_scheduling, line_services
from call_queue.callback_calls import ring_seconds
from madoguchi.job_queues import DEFAULT_QUEUE
from madoguchi.models import Call, CallbackAttempt, CallbackRequest, Inquiry, utcnow
from madoguchi.telephony import TelephonyError
from madoguchi.telephony.base import AccountRefused, NetworkBusy, OutcomeUnknown
from tests.call_queue.conftest import callback_request, case_note, fetch, free_operator, post_signed

MOBILE = "+819011112222"
LANDLINE = "+81312349876"


_post = post_signed


def _attempts(session, request_id: int) -> list[CallbackAttempt]:
    found = list(session.scalars(select(CallbackAttempt).where(
        CallbackAttempt.request_id == request_id).order_by(CallbackAttempt.attempt_no)
        .execution_options(populate_existing=True)))
    session.commit()
    return found


def _dispatched_request(session, number: str = MOBILE) -> tuple[CallbackRequest, int]:
    request = callback_request(session, minutes=4, number=number)
    operator_id = free_operator(session)
    request = fetch(session, CallbackRequest, request.id)
    assert request.status == "dialing"
    return request, operator_id


def _dial_fails(monkeypatch, error: Exception, *, placed_first: bool = False) -> list[str]:
    """Every dial fails with error (after the call was placed, if placed_first); the CallSids
    placed, or the numbers asked for when nothing was placed."""
    from madoguchi.telephony.simulated import SimulatedTelephony

    asked: list[str] = []
    place = SimulatedTelephony.place_call

    def failing(self, to_e164, **options):
        asked.append(place(self, to_e164, **options) if placed_first else to_e164)
        raise error

    monkeypatch.setattr(SimulatedTelephony, "place_call", failing)
    return asked


def test_a_job_run_twice_dials_its_attempt_once(line_ctx, network):
    session = line_ctx
    request, _ = _dispatched_request(session)
    first = callback_jobs.place_callback(request.id, 1)
    again = callback_jobs.place_callback(request.id, 1)  # RQ retry, or a restarted worker
    assert first is not None and again is None
    ringing = network.ringing_calls()
    assert [call.sid for call in ringing] == [first]
    call = ringing[0]
    assert call.to_number == MOBILE and call.machine_detection
    assert call.timeout_seconds == ring_seconds(line_services.settings().queue, 1)
    assert f"/voice/callback/status?attempt={_attempts(session, request.id)[0].id}" in (
        call.status_callback)


def test_a_retry_rings_longer_for_residents_slow_to_reach_the_phone(app):
    queue = app.config["SETTINGS"].queue
    assert ring_seconds(queue, 2) > ring_seconds(queue, 1) == queue.callback_ring_seconds
    assert ring_seconds(queue, 9) <= 120


def test_no_answer_puts_the_request_back_in_line_and_frees_the_operator_once(
        line_ctx, network, webhooks):
    session = line_ctx
    request, operator_id = _dispatched_request(session)
    callback_jobs.place_callback(request.id, 1)
    attempt = _attempts(session, request.id)[0]
    for _ in range(2):  # Twilio delivers the final status twice
        response = _post(webhooks, f"/voice/callback/status?attempt={attempt.id}",
                         CallSid=attempt.call_sid, CallStatus="no-answer")
        assert response.status_code == 204
    request = fetch(session, CallbackRequest, request.id)
    retry = line_services.settings().queue.callback_retry_minutes
    assert request.status == "waiting" and request.operator_id is None
    assert request.next_attempt_at > utcnow() + timedelta(minutes=retry - 1)
    assert _attempts(session, request.id)[0].status == "no-answer"
    assert line_services.board().available_ids(utcnow()) == [operator_id]
    assert len(network.ringing_calls()) == 1  # no second dial from the duplicate


def test_when_due_again_the_next_attempt_keeps_the_original_place(line_ctx, network, webhooks):
    session = line_ctx
    request, _ = _dispatched_request(session)
    callback_jobs.place_callback(request.id, 1)
    attempt = _attempts(session, request.id)[0]
    _post(webhooks, f"/voice/callback/status?attempt={attempt.id}", CallSid=attempt.call_sid,
          CallStatus="busy")
    later = utcnow() + timedelta(minutes=line_services.settings().queue.callback_retry_minutes + 1)
    assignments = line_services.dispatch(session, later)
    assert [(a.party.id, a.attempt_no) for a in assignments] == [(request.id, 2)]
    assert Job.fetch(job_scheduling.callback_job_id(request.id, 2),
                     connection=line_services.board().redis)


def test_a_retry_is_scheduled_for_the_end_of_its_pause_with_the_request_id_only(
        line_ctx, network, webhooks, redis_client):
    session = line_ctx
    request, _ = _dispatched_request(session)
    callback_jobs.place_callback(request.id, 1)
    attempt = _attempts(session, request.id)[0]
    for _ in range(2):  # a duplicated status callback schedules nothing more
        _post(webhooks, f"/voice/callback/status?attempt={attempt.id}",
              CallSid=attempt.call_sid, CallStatus="no-answer")
    due_at = fetch(session, CallbackRequest, request.id).next_attempt_at
    registry = ScheduledJobRegistry(DEFAULT_QUEUE, connection=redis_client)
    job_id = job_scheduling.callback_due_job_id(request.id, 1)
    assert registry.get_job_ids() == [job_id]
    job = Job.fetch(job_id, connection=redis_client)
    assert (job.func_name, job.args) == ("call_queue.callback_jobs.callback_due", (request.id,))
    due = registry.get_scheduled_time(job).replace(tzinfo=UTC)
    assert due_at <= due < due_at + timedelta(seconds=1)


def test_after_the_last_attempt_the_request_is_unreached_with_sms_and_a_case(
        line_ctx, network, webhooks, app):
    session = line_ctx
    max_attempts = line_services.settings().queue.callback_max_attempts
    request, _ = _dispatched_request(session)
    for attempt_no in range(1, max_attempts + 1):
        if attempt_no > 1:
            later = utcnow() + timedelta(hours=attempt_no)
            assert line_services.dispatch(session, later)
        callback_jobs.place_callback(request.id, attempt_no)
        attempt = _attempts(session, request.id)[-1]
        answer = _post(webhooks, f"/voice/callback/answer?attempt={attempt.id}",
                       CallSid=attempt.call_sid, AnsweredBy="machine_end_beep")
        body = answer.get_data(as_text=True)
        last = attempt_no == max_attempts
        assert "<Hangup" in body and ("つながりませんでした" in body) == last
        _post(webhooks, f"/voice/callback/status?attempt={attempt.id}", CallSid=attempt.call_sid,
              CallStatus="completed")
    assert fetch(session, CallbackRequest, request.id).status == "unreached"
    assert [a.status for a in _attempts(session, request.id)] == ["machine"] * max_attempts
    (sms,) = network.messages(MOBILE)
    assert "つながりませんでした" in sms.body  # it rang: "we called but could not reach you"
    case = next(i for i in session.scalars(select(Inquiry)) if i.contact_e164 == MOBILE)
    session.commit()
    assert case is not None and case.category == "callback"
    assert "never rang" not in case_note(session, case.id)
    due_hours = line_services.settings().inquiries.callback_due_hours
    assert case.due_at - case.created_at == timedelta(hours=due_hours), "the follow-up is due"


def test_a_landline_that_is_never_reached_gets_a_case_but_no_sms(line_ctx, network, webhooks):
    session = line_ctx
    configure_attempts(1)
    request, _ = _dispatched_request(session, LANDLINE)
    callback_jobs.place_callback(request.id, 1)
    attempt = _attempts(session, request.id)[0]
    _post(webhooks, f"/voice/callback/status?attempt={attempt.id}", CallSid=attempt.call_sid,
          CallStatus="no-answer")
    assert fetch(session, CallbackRequest, request.id).status == "unreached"
    assert network.messages(LANDLINE) == []
    assert any(i.contact_e164 == LANDLINE for i in session.scalars(select(Inquiry)))


def test_an_operator_disabled_during_a_callback_leaves_its_end_handled_all_the_same(
        line_ctx, network, webhooks):
    # The resident is not lost because the account was disabled meanwhile: the text and the
    # follow-up case still come, and the disabled account is given nobody.
    from agent_console.services import accounts
    from tests import factories

    configure_attempts(1)
    session = line_ctx
    admin = factories.operator(session, role="admin")
    session.commit()
    request, operator_id = _dispatched_request(session)
    callback_jobs.place_callback(request.id, 1)
    (attempt,) = _attempts(session, request.id)
    accounts.set_active(session, operator_id, False, acting_id=admin.id)
    ended = _post(webhooks, f"/voice/callback/status?attempt={attempt.id}",
                  CallSid=attempt.call_sid, CallStatus="no-answer")
    assert ended.status_code == 204
    assert fetch(session, CallbackRequest, request.id).status == "unreached"
    assert len(network.messages(MOBILE)) == 1
    assert any(i.contact_e164 == MOBILE for i in session.scalars(select(Inquiry)))
    session.commit()
    assert line_services.board().get(operator_id).state == "offline"


def configure_attempts(count: int) -> None:
    """Allow only `count` callback attempts in this test's app."""
    from flask import current_app

    from tests.ivr.conftest import configure

    configure(current_app, queue={"callback_max_attempts": count})


def test_an_answered_callback_says_who_calls_and_dials_the_reserved_operator(
        line_ctx, network, webhooks):
    session = line_ctx
    request, operator_id = _dispatched_request(session)
    callback_jobs.place_callback(request.id, 1)
    attempt = _attempts(session, request.id)[0]
    body = _post(webhooks, f"/voice/callback/answer?attempt={attempt.id}",
                 CallSid=attempt.call_sid, AnsweredBy="human").get_data(as_text=True)
    assert "折り返し" in body and f"<Client>operator-{operator_id}</Client>" in body
    assert fetch(session, CallbackRequest, request.id).status == "connected"
    for _ in range(2):
        status = _post(webhooks, f"/voice/callback/status?attempt={attempt.id}",
                       CallSid=attempt.call_sid, CallStatus="completed")
        assert status.status_code == 204
    assert fetch(session, CallbackRequest, request.id).status == "reached"
    assert line_services.board().get(operator_id).state == "wrap_up"


def _answered(session, webhooks, request_id: int, attempt_no: int) -> CallbackAttempt:
    """The attempt dialled and a person answering it (the operator's phone now rings)."""
    callback_jobs.place_callback(request_id, attempt_no)
    attempt = _attempts(session, request_id)[-1]
    _post(webhooks, f"/voice/callback/answer?attempt={attempt.id}", CallSid=attempt.call_sid,
          AnsweredBy="human")
    return attempt


def _answered_then_operator_missed(session, webhooks, request_id: int, attempt_no: int,
                                   **dial_action: str):
    attempt = _answered(session, webhooks, request_id, attempt_no)
    said = _post(webhooks, f"/voice/callback/bridged?attempt={attempt.id}",
                 CallSid=attempt.call_sid, DialCallStatus="no-answer", CallStatus="in-progress",
                 **dial_action)
    _post(webhooks, f"/voice/callback/status?attempt={attempt.id}", CallSid=attempt.call_sid,
          CallStatus="completed")
    return attempt, said.get_data(as_text=True)


def test_a_last_try_the_resident_answered_and_our_operator_missed_is_tried_again_as_promised(
        line_ctx, network, webhooks):
    session = line_ctx
    configure_attempts(1)
    request, operator_id = _dispatched_request(session)
    attempt, said = _answered_then_operator_missed(session, webhooks, request.id, 1)
    assert "もう一度、お電話いたします" in said
    assert line_services.board().get(operator_id).state == "away"
    again = fetch(session, CallbackRequest, request.id)
    assert again.status == "waiting" and again.arrival_at == request.arrival_at
    assert fetch(session, CallbackAttempt, attempt.id).status == "operator-missed"
    assert network.messages(MOBILE) == [] and session.scalar(select(Inquiry)) is None
    # The resident's own try, unanswered, is then their last.
    other = free_operator(session)
    assert line_services.dispatch(session, utcnow() + timedelta(hours=1))
    callback_jobs.place_callback(request.id, 2)
    second = _attempts(session, request.id)[-1]
    _post(webhooks, f"/voice/callback/status?attempt={second.id}", CallSid=second.call_sid,
          CallStatus="no-answer")
    assert fetch(session, CallbackRequest, request.id).status == "unreached"
    assert line_services.board().get(other).state == "available"


def test_a_resident_who_hangs_up_while_the_operator_s_phone_rings_is_tried_again(
        line_ctx, network, webhooks):
    # Nobody spoke: not "reached", and the operator missed nothing (not marked away).
    session = line_ctx
    request, operator_id = _dispatched_request(session)
    attempt = _answered(session, webhooks, request.id, 1)
    _post(webhooks, f"/voice/callback/bridged?attempt={attempt.id}", CallSid=attempt.call_sid,
          DialCallStatus="no-answer", CallStatus="completed")  # Twilio asks it as they go
    _post(webhooks, f"/voice/callback/status?attempt={attempt.id}", CallSid=attempt.call_sid,
          CallStatus="completed")
    assert fetch(session, CallbackRequest, request.id).status == "waiting"
    assert fetch(session, CallbackAttempt, attempt.id).status == "hung-up"
    assert line_services.board().get(operator_id).state == "available"
    # The call the operator was given is over: it must not look like their current call.
    record = session.scalar(select(Call).where(Call.call_sid == attempt.call_sid))
    session.commit()
    assert record.ended_at is not None


def test_only_two_operator_misses_are_forgiven_then_they_count_as_the_resident_s_tries(
        line_ctx, network, webhooks):
    # An operator's phone failing every time must not ring the resident without end.
    session = line_ctx
    configure_attempts(1)
    request, _ = _dispatched_request(session)
    for attempt_no in (1, 2, 3):
        if attempt_no > 1:
            free_operator(session)
            assert line_services.dispatch(session, utcnow() + timedelta(hours=attempt_no))
        _answered_then_operator_missed(session, webhooks, request.id, attempt_no)
        expected = "unreached" if attempt_no == 3 else "waiting"
        assert fetch(session, CallbackRequest, request.id).status == expected, attempt_no


def _dialled_then_logged_off(session) -> tuple[CallbackRequest, int, CallbackAttempt]:
    """A callback dialled for an operator, who then logs off while it rings."""
    from call_queue import taking

    request, operator_id = _dispatched_request(session)
    callback_jobs.place_callback(request.id, 1)
    attempt = _attempts(session, request.id)[0]
    taking.set_own_state(session, operator_id, "offline")
    return request, operator_id, attempt


def test_an_operator_who_logs_off_during_a_callback_is_not_put_back_on_duty_by_its_end(
        line_ctx, network, webhooks):
    session = line_ctx
    request, operator_id, attempt = _dialled_then_logged_off(session)
    _post(webhooks, f"/voice/callback/status?attempt={attempt.id}", CallSid=attempt.call_sid,
          CallStatus="no-answer")
    assert line_services.board().get(operator_id).state == "offline"
    assert fetch(session, CallbackRequest, request.id).status == "waiting"


def test_an_operator_back_from_a_logoff_and_on_a_new_call_is_left_on_it_by_the_old_end(
        line_ctx, network, webhooks):
    from call_queue import taking
    from tests.call_queue.conftest import live_holder

    session = line_ctx
    _, operator_id, attempt = _dialled_then_logged_off(session)
    holder = live_holder(session, network, minutes=1, number="+819011113333")
    taking.set_own_state(session, operator_id, "available")  # back, and given the holder
    assert fetch(session, Call, holder.id).operator_id == operator_id
    _post(webhooks, f"/voice/callback/status?attempt={attempt.id}", CallSid=attempt.call_sid,
          CallStatus="no-answer")
    assert line_services.board().get(operator_id).state == "on_call"


def test_a_callback_put_through_is_a_call_the_operator_can_wrap_up_and_is_not_inbound_traffic(
        line_ctx, network, webhooks):
    from agent_console.services import work_desk

    session = line_ctx
    request, operator_id = _dispatched_request(session)
    callback_jobs.place_callback(request.id, 1)
    attempt = _attempts(session, request.id)[0]
    for _ in range(2):  # a retried webhook records the call once
        _post(webhooks, f"/voice/callback/answer?attempt={attempt.id}",
              CallSid=attempt.call_sid, AnsweredBy="human")
    record = session.scalar(select(Call).where(Call.call_sid == attempt.call_sid))
    session.commit()
    assert record.direction == "outbound-callback" and record.operator_id == operator_id
    assert record.to_number == MOBILE and record.from_e164 is None
    assert work_desk.call_to_wrap(session, operator_id).id == record.id
    session.commit()  # end the read: SQLite holds its lock until then
    _post(webhooks, f"/voice/callback/bridged?attempt={attempt.id}",
          CallSid=attempt.call_sid, DialCallStatus="completed")
    record = fetch(session, Call, record.id)
    assert record.ended_at is not None and record.duration_seconds is not None


def test_an_operator_who_chose_to_be_reached_by_phone_is_dialled_on_that_number(
        line_ctx, network, webhooks):
    session = line_ctx
    request = callback_request(session, minutes=4, number=MOBILE)
    free_operator(session, phone_e164="+81355550000", reach_by="phone")
    callback_jobs.place_callback(request.id, 1)
    attempt = _attempts(session, request.id)[0]
    body = _post(webhooks, f"/voice/callback/answer?attempt={attempt.id}",
                 CallSid=attempt.call_sid, AnsweredBy="human").get_data(as_text=True)
    assert "<Number>+81355550000</Number>" in body


def test_an_operator_who_keeps_a_phone_number_but_works_in_the_browser_is_dialled_as_a_client(
        line_ctx, network, webhooks):
    session = line_ctx
    request = callback_request(session, minutes=4, number=MOBILE)
    operator_id = free_operator(session, phone_e164="+81355550000", reach_by="browser")
    callback_jobs.place_callback(request.id, 1)
    attempt = _attempts(session, request.id)[0]
    body = _post(webhooks, f"/voice/callback/answer?attempt={attempt.id}",
                 CallSid=attempt.call_sid, AnsweredBy="human").get_data(as_text=True)
    assert f"<Client>operator-{operator_id}</Client>" in body
    assert "+81355550000" not in body


def test_the_sweep_enqueues_attempts_lost_while_redis_was_down(line_ctx, network, redis_client):
    session = line_ctx
    request, _ = _dispatched_request(session)
    redis_client.flushdb()  # the job vanished with Redis (or was never written)
    assert callback_jobs.requeue_missing_attempts(session, redis_client) == 1
    assert callback_jobs.requeue_missing_attempts(session, redis_client) == 0  # already queued
    callback_jobs.place_callback(request.id, 1)
    assert callback_jobs.requeue_missing_attempts(session, redis_client) == 0  # dialled: none
    assert len(network.ringing_calls()) == 1


def test_a_claim_whose_process_died_before_its_attempt_was_enqueued_is_placed_by_the_sweep(
        line_ctx, network, redis_client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from call_queue.dispatch import Dispatcher

    session = line_ctx
    request = callback_request(session, minutes=4, number=MOBILE)

    def dies(self, operator_id, party, now):
        raise OperationalError("UPDATE callback_requests", {}, Exception("server closed"))

    with monkeypatch.context() as patched:
        patched.setattr(Dispatcher, "_start_callback", dies)
        with pytest.raises(OperationalError):
            free_operator(session)  # claimed for the operator, then nothing more
    session.rollback()
    claimed = fetch(session, CallbackRequest, request.id)
    assert claimed.status == "dialing" and claimed.attempts == 1
    assert callback_jobs.requeue_missing_attempts(session, redis_client) == 1
    callback_jobs.place_callback(request.id, 1)
    assert [call.to_number for call in network.ringing_calls()] == [MOBILE]


def test_a_request_written_while_redis_was_down_is_placed_by_the_sweep(
        line_ctx, network, redis_client):
    session = line_ctx
    operator_id = free_operator(session)
    request = callback_request(session, minutes=1, number=MOBILE)  # nobody dispatched it
    result = callback_jobs.sweep_line()
    assert result["assigned"] == 1
    assert fetch(session, CallbackRequest, request.id).operator_id == operator_id
    assert Job.fetch(job_scheduling.callback_job_id(request.id, 1), connection=redis_client)


def test_an_attempt_whose_worker_died_before_dialling_is_closed_and_retried_at_once(
        line_ctx, network, redis_client):
    session = line_ctx
    request, operator_id = _dispatched_request(session)
    session.add(CallbackAttempt(request_id=request.id, attempt_no=1, status="dialing",
                                started_at=utcnow() - timedelta(minutes=30)))
    session.commit()
    assert callback_jobs.close_stale_attempts(session, utcnow()) == 1
    again = fetch(session, CallbackRequest, request.id)
    assert (again.status, again.attempts, again.operator_id) == ("dialing", 2, operator_id)
    assert Job.fetch(job_scheduling.callback_job_id(request.id, 2), connection=redis_client)
    assert callback_jobs.place_callback(request.id, 1) is None


def test_an_attempt_whose_worker_died_after_dialling_keeps_that_call_and_is_not_dialled_again(
        line_ctx, network):
    session = line_ctx
    request, _ = _dispatched_request(session)
    attempt = CallbackAttempt(request_id=request.id, attempt_no=1, status="dialing",
                              started_at=utcnow() - timedelta(minutes=3))
    session.add(attempt)
    session.commit()
    from madoguchi.telephony import get_telephony

    sid = get_telephony().place_call(MOBILE, url="https://x.example/a", status_callback="",
                                     timeout_seconds=30, machine_detection=True)
    assert callback_jobs.close_stale_attempts(session, utcnow()) == 0
    kept = fetch(session, CallbackAttempt, attempt.id)
    assert (kept.status, kept.call_sid) == ("dialing", sid)
    assert fetch(session, CallbackRequest, request.id).attempts == 1
    assert [call.sid for call in network.ringing_calls()] == [sid]


def test_a_call_another_attempt_to_the_same_number_holds_is_not_taken_for_a_lost_one(
        line_ctx, network, webhooks):
    # A resident reached a moment ago asks again: the sweep must not give the new request's
    # lost attempt the earlier one's call (it would never close, and the sweep fail each time).
    from madoguchi.telephony import get_telephony

    session = line_ctx
    first = callback_request(session, minutes=9, number=MOBILE, status="reached", attempts=1)
    second = callback_request(session, minutes=8, number=MOBILE, status="dialing", attempts=1)
    sid = get_telephony().place_call(MOBILE, url="https://x.example/a", status_callback="",
                                     timeout_seconds=30, machine_detection=True)
    held = CallbackAttempt(request_id=first.id, attempt_no=1, status="completed", call_sid=sid,
                           started_at=utcnow() - timedelta(minutes=3))
    lost = CallbackAttempt(request_id=second.id, attempt_no=1, status="dialing",
                           started_at=utcnow() - timedelta(minutes=3))
    session.add_all([held, lost])
    session.commit()
    assert callback_jobs.close_stale_attempts(session, utcnow()) == 1
    assert fetch(session, CallbackAttempt, lost.id).status == "failed"  # never placed: retried
    assert fetch(session, CallbackAttempt, held.id).call_sid == sid
    # Its answer and end, reported with the other attempt's CallSid, settle it all the same.
    third = callback_request(session, minutes=7, number=LANDLINE, status="dialing", attempts=1)
    odd = CallbackAttempt(request_id=third.id, attempt_no=1, status="dialing",
                          started_at=utcnow())
    session.add(odd)
    session.commit()
    answered = _post(webhooks, f"/voice/callback/answer?attempt={odd.id}", CallSid=sid,
                     AnsweredBy="machine_end_beep")
    assert answered.status_code == 200 and "<Hangup" in answered.get_data(as_text=True)
    ended = _post(webhooks, f"/voice/callback/status?attempt={odd.id}", CallSid=sid,
                  CallStatus="completed")
    assert ended.status_code == 204
    closed = fetch(session, CallbackAttempt, odd.id)
    assert (closed.status, closed.call_sid) == ("machine", None)


def test_a_network_error_quoting_the_number_reaches_the_log_only_masked(
        app, db_session, monkeypatch, caplog):
    class Unreachable:
        def calls_placed_to(self, number, since):
            raise TelephonyError(f"listing calls to {number} (090-1234-5678) failed: HTTP 503")

    monkeypatch.setattr(callback_jobs, "get_telephony", lambda: Unreachable())
    with app.app_context(), caplog.at_level("WARNING"):
        assert callback_jobs._found_its_call(db_session, 7, "+819012345678", utcnow()) is True
    logged = caplog.text
    assert "cannot ask the phone network" in logged and "5678" in logged
    assert "12345678" not in logged and "1234-5678" not in logged


def test_a_callback_placed_without_twilio_s_answer_is_not_dialled_again_and_meets_its_operator(
        line_ctx, network, webhooks, monkeypatch):
    # Twilio placed the call but its answer never came (a read timeout): reported as failed,
    # the resident would be rung twice and hung up on when they pick up the first.
    from madoguchi.telephony.base import OutcomeUnknown

    placed = _dial_fails(monkeypatch, OutcomeUnknown(
        "call to [number] failed: Twilio did not answer (ReadTimeout)"), placed_first=True)
    session = line_ctx
    request, operator_id = _dispatched_request(session)
    assert callback_jobs.place_callback(request.id, 1) is None
    (attempt,) = _attempts(session, request.id)
    assert (attempt.status, attempt.call_sid) == ("dialing", None)  # open, not failed
    assert [call.sid for call in network.ringing_calls()] == placed
    body = _post(webhooks, f"/voice/callback/answer?attempt={attempt.id}",
                 CallSid=placed[0], AnsweredBy="human").get_data(as_text=True)
    assert f"<Client>operator-{operator_id}</Client>" in body
    assert fetch(session, CallbackAttempt, attempt.id).call_sid == placed[0]
    record = session.scalar(select(Call).where(Call.call_sid == placed[0]))
    session.commit()
    assert record is not None and record.operator_id == operator_id
    _post(webhooks, f"/voice/callback/status?attempt={attempt.id}", CallSid=placed[0],
          CallStatus="completed")
    assert fetch(session, CallbackRequest, request.id).status == "reached"
    assert len(placed) == 1


def test_a_dial_twilio_refuses_frees_the_operator_and_waits_its_retry_pause(
        line_ctx, network, redis_client, monkeypatch):
    # Nothing rang (a number Twilio will not call): the operator reserved for it takes the
    # next party, and the request keeps its place for a retry.
    _dial_fails(monkeypatch, TelephonyError(
        "call to [number] failed: Twilio error 21215 (HTTP 400)"))
    session = line_ctx
    request, operator_id = _dispatched_request(session)
    assert callback_jobs.place_callback(request.id, 1) is None
    (attempt,) = _attempts(session, request.id)
    assert attempt.status == "failed"
    again = fetch(session, CallbackRequest, request.id)
    assert (again.status, again.operator_id, again.arrival_at) == (
        "waiting", None, request.arrival_at)
    assert again.next_attempt_at > utcnow()
    assert line_services.board().get(operator_id).state == "available"
    assert ScheduledJobRegistry(DEFAULT_QUEUE, connection=redis_client).get_job_ids() == [
        job_scheduling.callback_due_job_id(request.id, 1)]


def test_a_last_dial_twilio_refuses_is_not_told_to_the_resident_as_a_call(
        line_ctx, network, monkeypatch):
    # Their phone never rang: the text must not say "we called but could not reach you".
    configure_attempts(1)
    _dial_fails(monkeypatch, TelephonyError(
        "call to [number] failed: Twilio error 21215 (HTTP 400)"))
    session = line_ctx
    request, operator_id = _dispatched_request(session)
    assert callback_jobs.place_callback(request.id, 1) is None
    assert fetch(session, CallbackRequest, request.id).status == "unreached"
    (sms,) = network.messages(MOBILE)
    assert "おかけできませんでした" in sms.body and "つながりませんでした" not in sms.body
    case = next(i for i in session.scalars(select(Inquiry)) if i.contact_e164 == MOBILE)
    session.commit()
    assert "1 attempts, not reached; the phone never rang" in case_note(session, case.id)
    assert line_services.board().get(operator_id).state == "available"


def test_a_dial_whose_answer_was_lost_but_rang_is_told_as_a_call_that_rang(
        line_ctx, network, webhooks, monkeypatch):
    # Twilio placed the call but its answer never came: the attempt has no CallSid when the
    # call's end arrives. Their phone did ring: "we called but could not reach you".
    configure_attempts(1)
    placed = _dial_fails(monkeypatch, OutcomeUnknown("call to [number] failed: timed out"),
                         placed_first=True)
    session = line_ctx
    request, _ = _dispatched_request(session)
    assert callback_jobs.place_callback(request.id, 1) is None
    (attempt,) = _attempts(session, request.id)
    assert attempt.call_sid is None
    _post(webhooks, f"/voice/callback/status?attempt={attempt.id}", CallSid=placed[0],
          CallStatus="no-answer")
    assert fetch(session, CallbackRequest, request.id).status == "unreached"
    (attempt,) = _attempts(session, request.id)
    assert (attempt.status, attempt.call_sid) == ("no-answer", placed[0])
    (sms,) = network.messages(MOBILE)
    assert "つながりませんでした" in sms.body


NOT_DIALLED = [NetworkBusy("call to [number] failed: Twilio error 20429 (HTTP 429)"),
               AccountRefused("call to [number] failed: Twilio error 20003 (HTTP 401)")]


@pytest.mark.parametrize("error", NOT_DIALLED, ids=["busy", "account-refused"])
def test_a_dial_twilio_is_too_busy_for_does_not_count_and_the_line_waits_a_moment(
        line_ctx, network, redis_client, monkeypatch, error):
    # Launch day: Twilio answers 429 (or refuses a rotated token). Nobody loses an attempt
    # (three refusals would have made a resident "unreached" without their phone ever
    # ringing), and the freed operator is not handed the next callback to meet the same
    # refusal at once.
    from call_queue.dispatch import PAUSED_KEY

    dials = _dial_fails(monkeypatch, error)
    session = line_ctx
    request, operator_id = _dispatched_request(session)
    later = callback_request(session, minutes=1, number=LANDLINE)
    assert callback_jobs.place_callback(request.id, 1) is None
    assert _attempts(session, request.id) == []  # given back: it rang nowhere
    again = fetch(session, CallbackRequest, request.id)
    assert (again.status, again.attempts, again.operator_id, again.arrival_at) == (
        "waiting", 0, None, request.arrival_at)
    assert fetch(session, CallbackRequest, later.id).status == "waiting"
    assert line_services.board().get(operator_id).state == "available"
    assert redis_client.ttl(PAUSED_KEY) > 0 and dials == [MOBILE]
    redis_client.delete(PAUSED_KEY)  # the pause is over and Twilio takes calls again
    monkeypatch.undo()
    assert [a.party.id for a in line_services.dispatch(session)] == [request.id]
    assert callback_jobs.place_callback(request.id, 1) is not None
    assert [call.to_number for call in network.ringing_calls()] == [MOBILE]


def test_a_busy_attempt_is_not_given_back_once_its_request_has_moved_on(line_ctx, network):
    from call_queue import callback_calls

    session = line_ctx
    request, _ = _dispatched_request(session)
    old = CallbackAttempt(request_id=request.id, attempt_no=1, status="dialing",
                          started_at=utcnow())
    session.add(old)
    request.attempts = 2  # a later attempt began meanwhile
    session.commit()
    assert callback_calls.give_back_attempt(session, old.id, utcnow()) is None
    assert [a.attempt_no for a in _attempts(session, request.id)] == [1]
    assert fetch(session, CallbackRequest, request.id).attempts == 2
