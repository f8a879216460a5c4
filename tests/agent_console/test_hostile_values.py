"""Values no operator types, which a review found answering 500: now a clear 4xx, nothing written.

An id past what the database's integer column holds, a NUL character (PostgreSQL's driver
refuses it in any text), and a name search of more words than any name has (SQLite refuses
a query of a thousand conditions).
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from madoguchi import inquiries
from madoguchi.models import AuditEntry, Booking, Inquiry
from madoguchi.resident_terms import MAX_NAME_WORDS
from tests import factories
from tests.agent_console.conftest import csrf_token, post, search

HUGE = "99999999999999999999999"
PAST_INT4 = "2147483648"


@pytest.fixture
def resident(db_session):
    made = factories.resident(db_session, name="佐藤 花子", name_kana="サトウ ハナコ",
                              phone="+819012345678")
    db_session.commit()
    return made


def _count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("too_big", [HUGE, PAST_INT4])
@pytest.mark.parametrize("path, field, extra", [
    ("/console/residents/{id}/book", "slot_id", {}),
    ("/console/residents/{id}/move", "slot_id", {"reference": "1234567"}),
    ("/console/work/residents/{id}/book", "slot_id", {}),
    ("/console/work/residents/{id}/move", "slot_id", {"reference": "1234567"}),
    ("/console/residents/{id}/sms", "phone_id", {"kind": "text", "text": "こんにちは"}),
    ("/console/inquiries/new", "assigned_to", {"category": "roads", "subject": "件名"}),
])
def test_an_id_past_the_database_s_integer_is_refused_as_a_bad_form(
        as_operator, db_session, resident, path, field, extra, too_big):
    response = post(as_operator, path.format(id=resident.id), {field: too_big, **extra})
    assert response.status_code in (302, 400), response.status_code
    assert _count(db_session, Booking) == 0 and _count(db_session, Inquiry) == 0


@pytest.mark.parametrize("too_big", [HUGE, PAST_INT4])
def test_a_supervisor_s_booking_beyond_capacity_refuses_a_huge_slot_id(
        as_supervisor, db_session, resident, too_big):
    response = post(as_supervisor, f"/console/residents/{resident.id}/book-beyond-capacity",
                    {"slot_id": too_big, "reason": "医師の判断"})
    assert response.status_code in (302, 400)
    assert _count(db_session, Booking) == 0


def test_an_inquiry_s_update_refuses_a_huge_assignee(as_operator, db_session, staff):
    item = inquiries.create(db_session, category="roads", subject="街灯が消えている", channel="ivr")
    db_session.commit()
    response = post(as_operator, f"/console/inquiries/{item.id}",
                    {"status": "received", "category": "roads", "assigned_to": HUGE},
                    form_page=f"/console/inquiries/{item.id}")
    assert response.status_code == 400
    assert "入力内容を確認してください" in response.get_data(as_text=True)


def test_a_nul_in_the_login_name_is_refused_with_a_message(client, staff):
    response = client.post("/console/login", data={
        "username": "a\x00b", "password": "x", "csrf_token": csrf_token(client)})
    assert response.status_code == 400
    assert "NUL" in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/console/inquiries?category=%00", "/console/work?day=%00"])
def test_a_nul_in_a_query_is_refused_with_a_message(as_operator, url):
    response = as_operator.get(url)
    assert response.status_code == 400
    assert "使えない制御文字" in response.get_data(as_text=True)


@pytest.mark.parametrize("page", ["/console/residents", "/console/work"])
def test_a_nul_in_a_search_is_refused_with_a_message(as_operator, page):
    response = search(as_operator, "佐\x00", page)
    assert response.status_code == 400
    assert "使えない制御文字" in response.get_data(as_text=True)


def test_a_nul_in_a_posted_form_is_refused_and_nothing_is_written(as_operator, db_session,
                                                                  resident):
    response = post(as_operator, "/console/inquiries/new",
                    {"category": "roads", "subject": "件名\x00", "resident_id": str(resident.id)})
    assert response.status_code == 400
    assert _count(db_session, Inquiry) == 0


@pytest.mark.parametrize("page", ["/console/residents", "/console/work"])
def test_a_search_of_more_words_than_a_name_has_says_how_many_are_allowed(
        as_operator, db_session, resident, page):
    response = search(as_operator, "a " * 1200, page)
    assert response.status_code == 400
    assert f"{MAX_NAME_WORDS}語まで" in response.get_data(as_text=True)


def test_a_search_of_as_many_words_as_allowed_still_searches(as_operator, resident):
    words = " ".join(["サトウ"] * (MAX_NAME_WORDS - 1) + ["ハナコ"])
    response = search(as_operator, words)
    assert response.status_code == 200
    assert "佐藤 花子" in response.get_data(as_text=True)


def test_the_new_inquiry_page_for_a_resident_is_audited(as_operator, db_session, resident,
                                                        staff):
    page = as_operator.get("/console/inquiries/new", query_string={"resident": resident.id})
    assert "佐藤 花子" in page.get_data(as_text=True)
    [row] = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "view"))
    assert row.resident_id == resident.id and row.actor == staff.operator.username
    assert row.detail == {"page": "new inquiry"}


def test_the_new_inquiry_page_without_a_resident_audits_nothing(as_operator, db_session):
    assert as_operator.get("/console/inquiries/new").status_code == 200
    assert db_session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "view")) == 0
