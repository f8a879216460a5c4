"""The greeting learns, in the statement that records the call, whether the caller's number is
registered; "book" at the menu then goes on without asking the database anything."""

from __future__ import annotations

from sqlalchemy import event

from ivr.state import State
from tests.ivr.conftest import Caller
from tests.ivr.test_journeys import BIRTH, to_menu


def _statements_during(engine, work) -> list[str]:
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement.split("(")[0][:60])

    event.listen(engine, "before_cursor_execute", note)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return statements


def test_book_from_an_unknown_number_asks_the_database_nothing_and_asks_the_resident_number(
        caller, city, engine):
    to_menu(caller)
    assert "r=0" in caller.doc.next_url
    statements = _statements_during(engine, lambda: caller.press("1"))
    assert statements == []
    assert "住民番号" in caller.doc.text


def test_book_from_a_registered_number_asks_the_database_nothing_and_asks_the_birth_date(
        client, city, engine):
    caller = Caller(client, number="+819011112222")
    to_menu(caller)
    assert "r=1" in caller.doc.next_url
    statements = _statements_during(engine, lambda: caller.press("1"))
    assert statements == []
    assert "ご本人確認のため、生年月日を" in caller.doc.text


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
    statements = _statements_during(engine, lambda: caller.press("1"))
    assert any(statement.lstrip().upper().startswith("SELECT") for statement in statements)
    assert "住民番号" in caller.doc.text


def test_a_garbled_flag_in_the_url_is_read_as_not_known():
    for raw in ("", "2", "yes", "１"):
        assert State.parse("menu", {"r": raw}, ["ja"]).registered is None
    assert State.parse("menu", {"r": "1"}, ["ja"]).registered is True
    assert State.parse("menu", {"r": "0"}, ["ja"]).registered is False


def test_a_withheld_number_is_known_to_be_unregistered_and_book_asks_the_resident_number(
        client, city, engine):
    caller = Caller(client, number="anonymous")
    to_menu(caller)
    assert "r=0" in caller.doc.next_url
    statements = _statements_during(engine, lambda: caller.press("1"))
    assert statements == []
    assert "住民番号" in caller.doc.text
