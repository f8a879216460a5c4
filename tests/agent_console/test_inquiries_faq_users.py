"""Inquiries, FAQ entries and console users, as the console changes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from madoguchi import inquiries
from madoguchi.models import AuditEntry, FaqEntry, Inquiry, Operator
from tests import factories
from tests.agent_console.conftest import PASSWORD, login, post


def test_logging_an_inquiry_shows_the_reference_to_read_to_the_caller(as_operator, db_session,
                                                                      staff):
    resident = factories.resident(db_session)
    response = post(as_operator, "/console/inquiries/new", {
        "category": "waste", "subject": "粗大ごみの回収日", "note": "電話で受付",
        "contact_phone": "090-1234-5678", "resident_id": str(resident.id), "assigned_to": "0",
    }, form_page="/console/inquiries/new")
    assert response.status_code == 302
    created = db_session.scalar(select(Inquiry).where(Inquiry.resident_id == resident.id))
    assert (created.channel, created.status, created.contact_e164) == ("operator", "received",
                                                                       "+819012345678")
    page = as_operator.get(response.headers["Location"]).get_data(as_text=True)
    assert f"受付番号 {created.reference} で登録しました" in page
    assert f"{created.reference[:4]} {created.reference[4:]}" in page
    assert db_session.scalar(select(AuditEntry).where(
        AuditEntry.action == "create", AuditEntry.entity == "inquiry")).resident_id == resident.id


def test_a_contact_number_that_is_not_a_phone_number_is_refused_with_an_example(as_operator,
                                                                                db_session):
    response = post(as_operator, "/console/inquiries/new", {
        "category": "roads", "subject": "穴", "contact_phone": "12ab", "assigned_to": "0",
    }, form_page="/console/inquiries/new")
    assert response.status_code == 400
    assert "電話番号として読めません。例: 090-1234-5678" in response.get_data(as_text=True)
    assert db_session.scalar(select(Inquiry)) is None


def test_a_missing_subject_is_refused_and_nothing_is_saved(as_operator, db_session):
    response = post(as_operator, "/console/inquiries/new", {"category": "roads", "subject": ""},
                    form_page="/console/inquiries/new")
    assert response.status_code == 400
    assert db_session.scalar(select(Inquiry)) is None


def test_updating_status_assignment_and_public_text(as_operator, db_session, staff):
    case = inquiries.create(db_session, category="roads", subject="街灯が消えている",
                            channel="ivr")
    response = post(as_operator, f"/console/inquiries/{case.id}", {
        "status": "in_progress", "category": "roads", "assigned_to": str(staff.supervisor.id),
        "note": "現地確認へ", "public_text": "担当者が確認しています",
    }, form_page=f"/console/inquiries/{case.id}")
    assert response.status_code == 302
    db_session.expire_all()
    updated = db_session.get(Inquiry, case.id)
    assert (updated.status, updated.assigned_to_id) == ("in_progress", staff.supervisor.id)
    assert inquiries.last_public_update(updated).text == "担当者が確認しています"
    assert any(e.kind == "note" and e.text == "現地確認へ" for e in updated.events)


def test_the_list_filters_by_status_category_and_overdue(as_operator, db_session):
    late = inquiries.create(db_session, category="roads", subject="遅れている件", channel="ivr")
    late.due_at = datetime.now(UTC) - timedelta(days=1)
    inquiries.create(db_session, category="waste", subject="新しい件", channel="ivr")
    db_session.commit()
    overdue = as_operator.get("/console/inquiries?overdue=1").get_data(as_text=True)
    assert "遅れている件" in overdue and "新しい件" not in overdue
    by_category = as_operator.get("/console/inquiries?category=waste").get_data(as_text=True)
    assert "新しい件" in by_category and "遅れている件" not in by_category
    done = as_operator.get("/console/inquiries?status=done").get_data(as_text=True)
    assert "新しい件" not in done


def test_a_supervisor_writes_a_faq_entry_per_language_and_sees_the_spoken_preview(
        as_supervisor, db_session):
    response = post(as_supervisor, "/console/faq/new", {
        "position": "1", "active": "y",
        "title_ja": "接種会場", "answer_ja": "会場は市民会館です。|駐車場があります。",
        "title_en": "Vaccination site", "answer_en": "The site is the Civic Hall.",
    }, form_page="/console/faq/new")
    assert response.status_code == 302
    entry = db_session.scalar(select(FaqEntry))
    assert {t.language: t.title for t in entry.texts} == {"ja": "接種会場",
                                                          "en": "Vaccination site"}
    page = as_supervisor.get(response.headers["Location"]).get_data(as_text=True)
    assert "接種会場については、1を押してください。" in page
    assert "駐車場があります。" in page and "For Vaccination site, press 1." in page


def test_a_faq_entry_with_a_title_but_no_answer_is_refused(as_supervisor, db_session):
    response = post(as_supervisor, "/console/faq/new",
                    {"position": "1", "title_ja": "会場", "answer_ja": ""},
                    form_page="/console/faq/new")
    assert response.status_code == 400
    assert "ja: both the title and the answer are needed" in response.get_data(as_text=True)
    assert db_session.scalar(select(FaqEntry)) is None


def test_an_admin_creates_a_user_who_can_then_log_in(as_admin, client, db_session):
    response = post(as_admin, "/console/admin/users", {
        "username": "tanaka", "display_name": "田中", "password": PASSWORD,
        "role": "operator", "language": "ja",
    }, form_page="/console/admin/users")
    assert response.status_code == 302
    assert db_session.scalar(select(Operator).where(Operator.username == "tanaka")).role == (
        "operator")
    post(as_admin, "/console/logout")
    assert login(client, "tanaka").status_code == 302


def test_a_short_password_or_a_taken_username_is_refused_with_the_reason(as_admin, staff):
    short = post(as_admin, "/console/admin/users", {
        "username": "sato", "display_name": "佐藤", "password": "short", "role": "operator",
        "language": "ja"}, form_page="/console/admin/users")
    assert short.status_code == 400
    assert "at least 8 characters" in short.get_data(as_text=True)
    taken = post(as_admin, "/console/admin/users", {
        "username": staff.operator.username, "display_name": "x", "password": PASSWORD,
        "role": "operator", "language": "ja"}, form_page="/console/admin/users")
    assert f"The username {staff.operator.username} is taken" in taken.get_data(as_text=True)


def test_an_admin_disables_a_user_but_not_themselves(as_admin, staff, db_session):
    post(as_admin, f"/console/admin/users/{staff.operator.id}/active", {"active": "0"},
         form_page="/console/admin/users")
    db_session.expire_all()
    assert db_session.get(Operator, staff.operator.id).active is False
    response = post(as_admin, f"/console/admin/users/{staff.admin.id}/active", {"active": "0"},
                    form_page="/console/admin/users")
    assert "You cannot disable yourself" in as_admin.get(response.headers["Location"]).get_data(
        as_text=True)
    db_session.expire_all()
    assert db_session.get(Operator, staff.admin.id).active is True
