"""The same journeys, with every answer given awkwardly: `*1`, `1#`, `**` first, silence first."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from madoguchi import booking
from madoguchi.models import Booking, CallbackRequest
from tests.ivr.conftest import AwkwardCaller
from tests.ivr.test_journeys import BIRTH, RESIDENT_NO, call_of

pytestmark = pytest.mark.parametrize("style", AwkwardCaller.STYLES)


def test_an_awkward_caller_still_books(client, city, db_session, style):
    caller = AwkwardCaller(client, style)
    caller.dial()
    caller.press("1")
    caller.press("1")
    caller.press(RESIDENT_NO)
    caller.press(BIRTH)
    caller.press("1")
    caller.press("2")
    doc = caller.press("1")
    assert "ご予約が、確定しました" in doc.text
    db_session.expire_all()
    made = db_session.scalar(select(Booking).where(Booking.resident_id == city["resident"].id))
    assert (made.status, made.slot_id) == ("confirmed", city["slots"][1].id)


def test_an_awkward_caller_still_checks_and_cancels(client, city, db_session, style):
    existing = booking.book(db_session, slot_id=city["slots"][0].id,
                            resident_id=city["resident"].id, channel="api")
    caller = AwkwardCaller(client, style)
    caller.dial()
    caller.press("1")
    caller.press("2")
    caller.press("1")
    assert "生年月日" in caller.press(existing.reference).text  # the code alone is not enough
    caller.press(BIRTH)
    assert "ご予約があります" in caller.press("1").text
    caller.press("2")
    assert "ご予約を、取り消しました" in caller.press("1").text
    db_session.expire_all()
    assert db_session.get(Booking, existing.id).status == "cancelled"


def test_an_awkward_caller_still_hears_a_faq_answer(client, faq, db_session, style):
    caller = AwkwardCaller(client, style)
    caller.dial()
    caller.press("1")
    caller.press("3")
    assert "駐車場の答えです。" in caller.press("2").text
    doc = caller.press("3")
    assert doc.hung_up
    assert call_of(db_session, caller).outcome == "self_served"


@pytest.mark.parametrize("withheld", ["+266696687", "Anonymous"])
def test_an_awkward_withheld_caller_still_gets_a_callback(
    client, closed_line, db_session, style, withheld
):
    caller = AwkwardCaller(client, style, number=withheld)
    caller.dial()
    caller.press("1")
    caller.press("4")
    caller.press("1")
    readback = caller.press("0312345678")
    assert "0 3 1 2 3 4 5 6 7 8" in " ".join(readback.text.split())
    assert caller.press("1").hung_up
    db_session.expire_all()
    assert db_session.scalar(select(CallbackRequest.phone_e164)) == "+81312345678"
