"""Finding residents and opening their record: phone search, masking, and the audit trail."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from madoguchi import inquiries
from madoguchi.models import AuditEntry, Call
from tests import factories
from tests.agent_console.conftest import post, search


def audit_rows(session, action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))


def test_searching_by_kana_finds_the_resident_and_writes_an_audit_row(as_operator, db_session,
                                                                       staff):
    resident = factories.resident(db_session, name="佐藤 花子", name_kana="サトウ ハナコ")
    page = search(as_operator, "サトウ").get_data(as_text=True)
    assert "佐藤 花子" in page
    [row] = audit_rows(db_session, "search")
    assert row.actor == staff.operator.username and row.operator_id == staff.operator.id
    assert row.detail["results"] == [resident.id]
    assert row.ip == "127.0.0.1" and row.at is not None


def test_a_phone_number_typed_any_way_finds_its_owner(as_operator, db_session):
    resident = factories.resident(db_session, name="鈴木 一郎", phone="+819012345678")
    for typed in ("090-1234-5678", "０９０１２３４５６７８", "090 1234 5678"):
        page = search(as_operator, typed)
        assert resident.name in page.get_data(as_text=True), typed


def test_the_audit_row_of_a_phone_search_keeps_only_the_masked_number(as_operator, db_session):
    factories.resident(db_session, phone="+819012345678")
    search(as_operator, "090-1234-5678")
    [row] = audit_rows(db_session, "search")
    assert "12345678" not in str(row.detail) and "5678" in row.detail["query"]


def test_the_audit_row_of_a_name_search_keeps_its_kind_and_length_not_the_name(
        as_operator, db_session):
    resident = factories.resident(db_session, name="須賀 雪乃", name_kana="スガ ユキノ",
                                  resident_no="7731904")
    for typed in ("須賀 雪乃", "スガ", "7731904"):
        page = search(as_operator, typed)
        assert "須賀 雪乃" in page.get_data(as_text=True), typed
    name, kana, number = audit_rows(db_session, "search")
    assert name.detail == {"query": "name (5 characters)", "results": [resident.id]}
    assert kana.detail["query"] == "name (2 characters)"
    assert number.detail["query"] == "resident no (7 characters)"
    assert not any(word in str(row.detail) for row in (name, kana, number)
                   for word in ("須賀", "雪乃", "スガ", "7731904"))


def test_an_empty_search_writes_nothing_and_shows_the_box(as_operator, db_session):
    page = search(as_operator, " ")
    assert page.status_code == 200
    assert audit_rows(db_session, "search") == []


def test_opening_a_resident_shows_bookings_inquiries_and_calls_and_is_audited(
        as_operator, db_session, staff):
    resident = factories.resident(db_session, phone="+819012345678")
    campaign, site = factories.campaign(db_session), factories.site(db_session)
    slot = factories.slot(db_session, campaign_id=campaign.id, site_id=site.id)
    from madoguchi import booking

    made = booking.book(db_session, slot_id=slot.id, resident_id=resident.id, channel="ivr")
    case = inquiries.create(db_session, category="ごみ", subject="粗大ごみの回収",
                            channel="ivr", resident_id=resident.id)
    db_session.add(Call(call_sid="CA1", from_e164="+819012345678", resident_id=resident.id))
    db_session.commit()
    page = as_operator.get(f"/console/residents/{resident.id}").get_data(as_text=True)
    assert made.reference in page and case.reference in page and "粗大ごみの回収" in page
    assert "+81******5678" in page
    [row] = audit_rows(db_session, "view")
    assert (row.entity, row.resident_id, row.operator_id) == ("resident", resident.id,
                                                              staff.operator.id)


def test_operators_see_masked_numbers_until_they_ask_and_asking_is_audited(as_operator,
                                                                            db_session):
    resident = factories.resident(db_session, phone="+819012345678")
    page = as_operator.get(f"/console/residents/{resident.id}").get_data(as_text=True)
    assert "090-1234-5678" not in page
    revealed = post(as_operator, f"/console/residents/{resident.id}/reveal")
    assert "090-1234-5678" in revealed.get_data(as_text=True)
    assert [row.resident_id for row in audit_rows(db_session, "reveal_phone")] == [resident.id]
    again = as_operator.get(f"/console/residents/{resident.id}").get_data(as_text=True)
    assert "090-1234-5678" not in again


def test_supervisors_see_the_full_number(as_supervisor, db_session):
    resident = factories.resident(db_session, phone="+819012345678")
    page = as_supervisor.get(f"/console/residents/{resident.id}").get_data(as_text=True)
    assert "090-1234-5678" in page


def test_an_unknown_resident_is_a_404_without_an_audit_row(as_operator, db_session):
    assert as_operator.get("/console/residents/999999").status_code == 404
    assert audit_rows(db_session, "view") == []


def test_only_admins_read_the_audit_log_and_it_shows_who_did_what(as_operator, client, staff,
                                                                   db_session):
    resident = factories.resident(db_session, name="高橋 三郎")
    as_operator.get(f"/console/residents/{resident.id}")
    assert as_operator.get("/console/admin/audit").status_code == 403
    post(as_operator, "/console/logout")
    from tests.agent_console.conftest import login

    login(client, staff.admin.username)
    page = client.get(f"/console/admin/audit?resident={resident.id}").get_data(as_text=True)
    assert staff.operator.username in page and "view" in page
    assert client.post("/console/admin/audit").status_code == 405


@pytest.mark.parametrize("page", ["/console/residents", "/console/work"])
def test_a_search_is_posted_and_an_address_carrying_one_searches_nothing(
        as_operator, db_session, page):
    # What an operator types (a name, a phone number, a birth date) is personal data: in the
    # address it would stay in the browser's history and in any proxy's log.
    factories.resident(db_session, name="佐藤 花子", name_kana="サトウ ハナコ")
    form = re.search(r'<form method="(\w+)" action="([^"]+)" class="search"',
                     as_operator.get(page).get_data(as_text=True))
    assert form is not None and form.groups() == ("post", page)
    assert "佐藤 花子" in search(as_operator, "サトウ", page).get_data(as_text=True)
    assert len(audit_rows(db_session, "search")) == 1
    assert "佐藤 花子" not in as_operator.get(f"{page}?q=サトウ").get_data(as_text=True)
    assert len(audit_rows(db_session, "search")) == 1
