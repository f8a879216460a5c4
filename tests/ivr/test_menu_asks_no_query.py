"""The greeting learns, in the statement that records the call, whether the caller's number is
registered; "book" at the menu then goes on without asking the database anything."""

from __future__ import annotations

import pytest

from ivr.state import State
from tests.ivr.conftest import Caller, statements_during
from tests.ivr.test_journeys import BIRTH, to_menu


@pytest.mark.parametrize(("number", "flag", "asked"), [
    ("+819012345678", "r=0", "住民番号"),  # a mobile no resident registered
    ("+819011112222", "r=1", "ご本人確認のため、生年月日を"),  # the city's resident's phone
    ("anonymous", "r=0", "住民番号"),  # a withheld number
])
def test_book_at_the_menu_asks_the_database_nothing(client, city, engine, number, flag, asked):
    caller = Caller(client, number=number)
    to_menu(caller)
    assert flag in caller.doc.next_url
    statements = statements_during(engine, lambda: caller.press("1"))
    assert statements == []
    assert asked in caller.doc.text


def test_a_caller_identified_on_the_call_is_not_asked_again_when_booking_a_second_time(
        client, city):
    caller = Caller(client, number="+819011112222")
    to_menu(caller)
    caller.press("1")
    caller.press(BIRTH + "#")
    caller.press("1")
    assert "ご本人を、確認しました" in caller.doc.text
    assert "r=" not in caller.doc.next_url  # from here the call's row says who called
    caller.press("1")  # the first slot offered
    caller.press("1")  # yes, book it
    assert "ご予約が、確定しました" in caller.doc.text
    caller.press("1")  # back to the menu
    doc = caller.press("1")  # book again
    assert "生年月日" not in doc.text
    assert "すでに" in doc.text  # told of the booking they hold


def test_a_retried_greeting_learns_nothing_and_the_menu_then_reads_the_call(
        caller, city, engine):
    caller.dial()
    caller.dial()  # Twilio retried /voice/incoming: the call's row was already there
    assert "r=" not in caller.doc.next_url
    caller.press("1")  # 日本語
    statements = statements_during(engine, lambda: caller.press("1"))
    assert any(statement.lstrip().upper().startswith("SELECT") for statement in statements)
    assert "住民番号" in caller.doc.text


def test_a_garbled_flag_in_the_url_is_read_as_not_known():
    for raw in ("", "2", "yes", "１"):
        assert State.parse("menu", {"r": raw}, ["ja"]).registered is None
    assert State.parse("menu", {"r": "1"}, ["ja"]).registered is True
    assert State.parse("menu", {"r": "0"}, ["ja"]).registered is False



def test_a_number_unregistered_during_the_call_costs_the_caller_only_the_longer_way(
        client, city, db_session):
    from sqlalchemy import delete

    from madoguchi.models import ResidentPhone

    caller = Caller(client, number="+819011112222")
    to_menu(caller)
    assert "r=1" in caller.doc.next_url
    db_session.execute(delete(ResidentPhone).where(
        ResidentPhone.resident_id == city["resident"].id))  # removed from the register meanwhile
    db_session.commit()
    caller.press("1")
    assert "ご本人確認のため、生年月日を" in caller.doc.text  # the flag said registered …
    caller.press(BIRTH + "#")
    doc = caller.press("1")
    # … but the birth date is checked against the register as it is now: nobody matches, and
    # the caller is asked for the resident number instead.
    assert "住民番号" in doc.text
    assert "ご本人を、確認しました" not in doc.text
