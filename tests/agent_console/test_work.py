"""The work screen: who may use it, the line it shows, the connected call, wrap-up, screen pop."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from call_queue import operator_states
from call_queue.operators import OperatorBoard
from madoguchi.models import AuditEntry, Booking, Call, utcnow
from madoguchi.telephony.network import SimulatedCall, SimulatedNetwork, new_sid
from tests import factories
from tests.agent_console.conftest import post

WORK = "/console/work"


@pytest.fixture
def board(redis_client) -> OperatorBoard:
    """The operator board the app uses (same Redis, same keys)."""
    return OperatorBoard(redis_client)


def _holder(session, *, minutes: float, number: str, **fields) -> Call:
    call = Call(call_sid=new_sid("CA"), from_e164=number, language="ja", outcome="queued",
                queued_at=datetime.now(UTC) - timedelta(minutes=minutes),
                path=[{"at": "2026-01-01T00:00:00", "node": "menu"},
                      {"at": "2026-01-01T00:00:05", "node": "r_person"}], **fields)
    session.add(call)
    session.commit()
    return call


def _bridged(session, redis_client, operator_id: int, number: str, said: list[str]) -> Call:
    """A holder this operator took, bridged to their browser client on the simulator."""
    call = _holder(session, minutes=3, number=number, operator_id=operator_id,
                   answered_at=utcnow())
    network = SimulatedNetwork(redis_client)
    network.save_call(SimulatedCall(sid=call.call_sid, direction="inbound", from_number=number,
                                    to_number="+81312345678", status="in-progress",
                                    bridged_to=f"client operator-{operator_id}"))
    for words in said:
        network.say_to_operator(call.call_sid, words)
    operator_states.set_state(session, OperatorBoard(redis_client), operator_id, "on_call",
                              utcnow())
    return call


def test_the_work_screen_is_first_in_the_menu_and_shows_holders_with_masked_numbers(
        as_operator, db_session):
    resident = factories.resident(db_session, phone="+819055550001", name="佐藤 花子")
    db_session.commit()
    _holder(db_session, minutes=4, number="+819055550001")
    _holder(db_session, minutes=1, number="+819055550002")
    page = as_operator.get(WORK).get_data(as_text=True)
    nav = page.split('aria-label="main"', 1)[1]
    assert nav.index(WORK) < nav.index("/console/residents")
    assert resident.name in page and "住民不明" in page
    assert "+819055550001" not in page and "5550001"[-4:] in page
    assert "menu › r_person" in page


def test_going_available_through_the_screen_takes_the_next_holder_and_opens_their_record(
        as_operator, staff, db_session, redis_client, board):
    resident = factories.resident(db_session, phone="+819055550003", name="高橋 一郎")
    db_session.commit()
    holder = _holder(db_session, minutes=2, number="+819055550003")
    SimulatedNetwork(redis_client).save_call(SimulatedCall(
        sid=holder.call_sid, direction="inbound", from_number="+819055550003",
        to_number="+81312345678", status="in-progress"))
    response = post(as_operator, f"{WORK}/state", {"state": "available"}, form_page=WORK)
    assert response.status_code == 302
    assert response.headers["Location"] == f"{WORK}?resident={resident.id}"
    db_session.refresh(holder)
    assert holder.operator_id == staff.operator.id
    assert board.get(staff.operator.id).state == "on_call"


def test_a_post_without_its_csrf_token_is_refused(as_operator, staff, board):
    response = as_operator.post(f"{WORK}/state", data={"state": "available"})
    assert response.status_code == 400
    assert board.get(staff.operator.id).state == "offline"


def test_only_supervisors_may_take_one_chosen_caller(as_operator, db_session):
    holder = _holder(db_session, minutes=2, number="+819055550004")
    response = post(as_operator, f"{WORK}/take", {"kind": "holding", "party": holder.id},
                    form_page=WORK)
    assert response.status_code == 403
    db_session.refresh(holder)
    assert holder.operator_id is None


def test_a_supervisor_who_takes_a_caller_lands_on_their_record_or_the_plain_screen(
        as_supervisor, staff, db_session, redis_client):
    resident = factories.resident(db_session, phone="+819055550007", name="伊藤 和子")
    db_session.commit()
    network = SimulatedNetwork(redis_client)
    known = _holder(db_session, minutes=3, number="+819055550007")
    unknown = _holder(db_session, minutes=1, number="+819055550008")
    for call in (known, unknown):
        network.save_call(SimulatedCall(sid=call.call_sid, direction="inbound",
                                        from_number=call.from_e164, to_number="+81312345678",
                                        status="in-progress"))
    response = post(as_supervisor, f"{WORK}/take", {"kind": "holding", "party": unknown.id},
                    form_page=WORK)
    assert response.headers["Location"] == WORK
    db_session.execute(Call.__table__.update().where(Call.id == unknown.id)
                       .values(ended_at=utcnow(), wrapped_at=utcnow()))
    db_session.commit()
    operator_states.set_state(db_session, OperatorBoard(redis_client), staff.supervisor.id,
                       "available", utcnow())
    response = post(as_supervisor, f"{WORK}/take", {"kind": "holding", "party": known.id},
                    form_page=WORK)
    assert response.headers["Location"] == f"{WORK}?resident={resident.id}"


def test_a_take_the_phone_network_refuses_is_said_so_and_the_caller_keeps_waiting(
        as_supervisor, staff, db_session, redis_client, monkeypatch):
    from madoguchi.telephony.base import OutcomeUnknown
    from madoguchi.telephony.simulated import SimulatedTelephony

    def no_answer(self, call_sid, url):
        raise OutcomeUnknown(f"redirect of call {call_sid} failed: Twilio did not answer")

    monkeypatch.setattr(SimulatedTelephony, "redirect_call", no_answer)
    holder = _holder(db_session, minutes=2, number="+819055550017")
    SimulatedNetwork(redis_client).save_call(SimulatedCall(
        sid=holder.call_sid, direction="inbound", from_number=holder.from_e164,
        to_number="+81312345678", status="in-progress"))
    response = post(as_supervisor, f"{WORK}/take", {"kind": "holding", "party": holder.id},
                    form_page=WORK)
    assert response.status_code == 302 and response.headers["Location"] == WORK
    page = as_supervisor.get(WORK).get_data(as_text=True)
    assert "おつなぎできませんでした" in page and "順番はそのまま" in page
    db_session.refresh(holder)
    assert holder.operator_id is None and holder.ended_at is None


def test_take_next_while_the_phone_network_fails_says_so_instead_of_nobody_waiting(
        as_operator, staff, db_session, redis_client):
    from call_queue.dispatch import PAUSED_KEY

    _holder(db_session, minutes=2, number="+819055550018")
    redis_client.set(PAUSED_KEY, "1", ex=5)  # a moment ago Twilio refused to put one through
    for path, form in (("take-next", {}), ("state", {"state": "available"})):
        response = post(as_operator, f"{WORK}/{path}", form, form_page=WORK)
        assert response.status_code == 302
        page = as_operator.get(WORK).get_data(as_text=True)
        assert "今はおつなぎできません" in page and "お待ちの方はいません" not in page
        assert OperatorBoard(redis_client).get(staff.operator.id).state == "available"


def test_supervisors_see_take_this_one_and_operators_do_not(as_operator, client, staff,
                                                            db_session):
    _holder(db_session, minutes=2, number="+819055550005")
    assert "この方を受ける" not in as_operator.get(WORK).get_data(as_text=True)
    post(client, "/console/logout", form_page=WORK)
    from tests.agent_console.conftest import login

    login(client, staff.supervisor.username)
    assert "この方を受ける" in client.get(WORK).get_data(as_text=True)


def test_the_connected_panel_shows_what_the_caller_said_and_ends_the_call(
        as_operator, staff, db_session, redis_client):
    call = _bridged(db_session, redis_client, staff.operator.id, "+819055550006",
                    ["予約を変えたいのですが"])
    page = as_operator.get(WORK).get_data(as_text=True)
    assert 'id="connected-call"' in page and "予約を変えたいのですが" in page
    response = post(as_operator, f"{WORK}/end-call", form_page=WORK)
    assert response.status_code == 302
    control = SimulatedNetwork(redis_client).take_control(call.call_sid)
    assert control is not None and control.action == "end-dial"


def test_a_call_the_phone_network_will_not_end_is_said_so_and_stays_on_the_screen(
        as_operator, staff, db_session, redis_client, monkeypatch, caplog):
    # Twilio out of reach or refusing: the operator learns the call goes on, no error page.
    from agent_console.services.operator_line import SimulatedOperatorLine
    from madoguchi.telephony.base import TelephonyError

    def refused(_line, call_sid: str) -> None:
        raise TelephonyError(f"hang-up of call {call_sid} failed: +819055550016 is busy")

    monkeypatch.setattr(SimulatedOperatorLine, "end", refused)
    _bridged(db_session, redis_client, staff.operator.id, "+819055550016", [])
    with caplog.at_level(logging.WARNING):
        response = post(as_operator, f"{WORK}/end-call", form_page=WORK)
    assert response.status_code == 302
    page = as_operator.get(WORK).get_data(as_text=True)
    assert "通話を終えられませんでした" in page and 'id="connected-call"' in page
    assert "could not end call" in caplog.text and "9055550016" not in caplog.text


def test_ending_a_call_when_none_is_connected_says_so(as_operator):
    response = post(as_operator, f"{WORK}/end-call", form_page=WORK)
    assert response.status_code == 302
    assert "つながっている通話はありません" in as_operator.get(WORK).get_data(as_text=True)


def test_a_connected_known_caller_pops_their_record_and_the_view_is_audited(
        as_operator, staff, db_session, redis_client):
    resident = factories.resident(db_session, phone="+819055550007", name="高橋 一郎")
    db_session.commit()
    _bridged(db_session, redis_client, staff.operator.id, "+819055550007", [])
    page = as_operator.get(WORK).get_data(as_text=True)
    assert 'id="pop-resident"' in page and "高橋 一郎" in page
    views = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "view")).all()
    assert [(row.resident_id, row.actor) for row in views] == [
        (resident.id, staff.operator.username)]


def test_wrap_up_saves_disposition_and_notes_then_goes_available(as_operator, staff,
                                                                 db_session, board):
    call = _holder(db_session, minutes=5, number="+819055550008", operator_id=staff.operator.id,
                   answered_at=utcnow(), ended_at=utcnow())
    operator_states.start_wrap_up(db_session, board, staff.operator.id, utcnow(), 60)
    page = as_operator.get(WORK).get_data(as_text=True)
    assert f'id="wrap-call-id" value="{call.id}"' in page
    response = post(as_operator, f"{WORK}/wrap-up",
                    {"call_id": call.id, "disposition": "booked", "notes": "予約済み",
                     "next": "available"}, form_page=WORK)
    assert response.status_code == 302
    db_session.refresh(call)
    assert (call.disposition, call.wrap_notes) == ("booked", "予約済み")
    assert call.wrapped_at is not None
    assert board.get(staff.operator.id).state == "available"
    [row] = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "wrap_up")).all()
    assert row.detail == {"disposition": "booked"}


def test_a_wrap_up_without_a_disposition_from_the_list_saves_nothing_and_says_why(
        as_operator, staff, db_session, board):
    call = _holder(db_session, minutes=5, number="+819055550009", operator_id=staff.operator.id,
                   answered_at=utcnow(), ended_at=utcnow())
    operator_states.start_wrap_up(db_session, board, staff.operator.id, utcnow(), 60)
    post(as_operator, f"{WORK}/wrap-up", {"call_id": call.id, "disposition": "whatever",
                                          "next": "available"}, form_page=WORK)
    db_session.refresh(call)
    assert call.wrapped_at is None and call.disposition is None
    assert board.get(staff.operator.id).state == "wrap_up"
    assert "対応結果を一覧から選んでください" in as_operator.get(WORK).get_data(as_text=True)


def test_the_live_stream_sends_the_screen_parts_as_one_event(as_operator, app):
    app.config["CONSOLE_STREAM_LIFETIME_SECONDS"] = 0.01
    response = as_operator.get(f"{WORK}/stream")
    assert response.mimetype == "text/event-stream"
    body = response.get_data(as_text=True)
    assert "event: snapshot" in body and "live" not in body.split("event:")[0]
    assert '"state": "offline"' in body and "holders-list" not in body


def test_from_the_screen_pop_a_booking_is_made_moved_and_cancelled_with_audit_rows(
        as_operator, db_session):
    campaign, site = factories.campaign(db_session), factories.site(db_session)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
    world = {
        "first": factories.slot(db_session, campaign_id=campaign.id, site_id=site.id,
                                starts_at=start, capacity=2),
        "second": factories.slot(db_session, campaign_id=campaign.id, site_id=site.id,
                                 starts_at=start + timedelta(minutes=30), capacity=2),
        "day": start.date().isoformat(),
    }
    resident_id = factories.resident(db_session).id
    db_session.commit()
    pop = f"{WORK}?resident={resident_id}"
    post(as_operator, f"{WORK}/residents/{resident_id}/book",
         {"slot_id": world["first"].id, "day": world["day"]}, form_page=pop)
    made = db_session.scalar(select(Booking).where(Booking.resident_id == resident_id))
    assert made.slot_id == world["first"].id

    already = post(as_operator, f"{WORK}/residents/{resident_id}/book",
                   {"slot_id": world["second"].id, "day": world["day"]}, form_page=pop)
    assert made.reference in as_operator.get(already.headers["Location"]).get_data(as_text=True)

    moved = post(as_operator, f"{WORK}/residents/{resident_id}/move",
                 {"slot_id": world["second"].id, "reference": made.reference}, form_page=pop)
    assert moved.headers["Location"].startswith(f"{WORK}?resident={resident_id}")
    db_session.refresh(made)
    assert made.slot_id == world["second"].id

    post(as_operator, f"{WORK}/residents/{resident_id}/cancel",
         {"reference": made.reference, "reason": "体調不良"}, form_page=pop)
    db_session.refresh(made)
    assert made.status == "cancelled"
    actions = db_session.scalars(select(AuditEntry.action).where(
        AuditEntry.resident_id == resident_id)).all()
    assert {"view", "book", "book_refused", "move", "cancel"} <= set(actions)


def test_the_work_screen_opens_while_redis_is_unreachable(app, as_operator, staff, db_session):
    from madoguchi.redis_conn import connect

    # A Redis that answers nothing: a closed port on this machine.
    app.extensions["madoguchi_redis"] = connect("redis://127.0.0.1:9/0")
    response = as_operator.get("/console/work")
    assert response.status_code == 200
    assert 'id="own-state"' in response.get_data(as_text=True)


def test_a_wrap_up_posted_while_still_on_a_call_is_saved_and_says_the_call_goes_on(
        as_operator, staff, db_session, board):
    call = _holder(db_session, minutes=5, number="+819055550009", operator_id=staff.operator.id,
                   answered_at=utcnow(), ended_at=utcnow())
    operator_states.set_state(db_session, board, staff.operator.id, "on_call", utcnow())
    response = post(as_operator, f"{WORK}/wrap-up",
                    {"call_id": call.id, "disposition": "resolved", "next": "available"},
                    form_page=WORK)
    assert response.status_code == 302
    db_session.refresh(call)
    assert call.disposition == "resolved"
    assert board.get(staff.operator.id).state == "on_call"
    page = as_operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "通話中" in page
