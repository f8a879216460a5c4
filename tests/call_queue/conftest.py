"""Fixtures for the line's services: an app context on the rolled-back session and real Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import g
from sqlalchemy import select
from sqlalchemy.orm import close_all_sessions

from call_queue import line_services
from madoguchi.models import Call, CallbackRequest, InquiryEvent
from madoguchi.telephony.network import SimulatedCall, SimulatedNetwork, new_sid
from tests import factories
from tests.ivr.conftest import BASE, sign


@pytest.fixture
def line_ctx(app, committed_db, redis_client):
    """An app context, a session that really commits (webhooks see it), a flushed Redis."""
    session = committed_db()
    with app.app_context():
        try:
            yield session
        finally:
            session.close()


@pytest.fixture
def webhooks(app, committed_db):
    """A test client whose requests use their own sessions on the committed database."""
    return app.test_client()


def post_signed(client, path: str, **fields: str):
    """POST a webhook signed as Twilio would, then close sessions as a request's end does.

    Inside the test's app context the view's session outlives the request and would hold
    SQLite's lock until the test ends; closing every session ends those read transactions.
    """
    url = f"{BASE}{path}"
    response = client.post(path, data=fields, headers={"X-Twilio-Signature": sign(url, fields)})
    g.pop("db_session", None)
    close_all_sessions()
    return response


@pytest.fixture
def network(redis_client) -> SimulatedNetwork:
    """The simulated phone network the app's telephony uses."""
    return SimulatedNetwork(redis_client)


def minutes_ago(minutes: float) -> datetime:
    """A moment in the past, UTC."""
    return datetime.now(UTC) - timedelta(minutes=minutes)


def live_holder(session, network: SimulatedNetwork, *, minutes: float, number: str) -> Call:
    """A caller holding in the line since `minutes` ago, live on the simulated network."""
    sid = new_sid("CA")
    network.save_call(SimulatedCall(sid=sid, direction="inbound", from_number=number,
                                    to_number="+81312345678", status="in-progress"))
    call = Call(call_sid=sid, from_e164=number, language="ja", queued_at=minutes_ago(minutes),
                started_at=minutes_ago(minutes + 1), outcome="queued", path=[])
    session.add(call)
    session.commit()
    return call


def callback_request(session, *, minutes: float, number: str, **fields) -> CallbackRequest:
    """A callback request that first asked for a person `minutes` ago."""
    values = {"status": "waiting", "attempts": 0, **fields}
    request = CallbackRequest(phone_e164=number, arrival_at=minutes_ago(minutes), language="ja",
                              **values)
    session.add(request)
    session.commit()
    return request


def free_operator(session, **fields) -> int:
    """An operator made available through the service (board and database)."""
    operator = factories.operator(session, **fields)
    session.commit()
    line_services.operator_available(session, operator.id)
    return operator.id


def fetch(session, model, ident):
    """A row as committed now, without keeping a transaction open (SQLite locks on BEGIN)."""
    row = session.get(model, ident, populate_existing=True)
    session.commit()
    return row


def case_note(session, inquiry_id: int) -> str:
    """The note a case was opened with."""
    note = session.scalar(select(InquiryEvent.text).where(
        InquiryEvent.inquiry_id == inquiry_id, InquiryEvent.kind == "created"))
    session.commit()
    return note
