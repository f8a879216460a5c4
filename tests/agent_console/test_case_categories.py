"""Cases are filed under the city's list of categories: a select in the operator's language,
a clear refusal for anything else, and reports that count by the list."""

from __future__ import annotations

from sqlalchemy import select

from madoguchi import inquiries
from madoguchi.models import Inquiry
from tests import factories
from tests.agent_console.conftest import post
from tests.agent_console.test_reports import DAY, jst


def test_the_new_case_form_offers_the_list_in_the_operators_language(as_operator):
    page = as_operator.get("/console/inquiries/new").get_data(as_text=True)
    assert '<select id="category" name="category" required>' in page
    assert '<option value="waste" >ごみ</option>' in page
    assert '<option value="other" >その他</option>' in page


def test_an_english_speaking_user_sees_the_english_names(as_admin):
    page = as_admin.get("/console/inquiries/new").get_data(as_text=True)
    assert '<option value="waste" >Waste and recycling</option>' in page


def test_a_category_not_in_the_list_is_refused_with_a_clear_message(as_operator, db_session):
    for typed in ("@ごみ", "", "<b>x</b>"):
        response = post(as_operator, "/console/inquiries/new", {
            "category": typed, "subject": "粗大ごみの回収日", "assigned_to": "0"},
            form_page="/console/inquiries/new")
        assert response.status_code == 400, typed
    assert "分類は一覧から選んでください" in response.get_data(as_text=True)
    assert db_session.scalar(select(Inquiry)) is None


def test_changing_a_case_to_an_unknown_category_is_refused_and_the_case_is_unchanged(
        as_operator, db_session):
    case = inquiries.create(db_session, category="roads", subject="街灯", channel="ivr")
    response = post(as_operator, f"/console/inquiries/{case.id}", {
        "status": "received", "category": "parks", "assigned_to": "0"},
        form_page=f"/console/inquiries/{case.id}")
    assert response.status_code == 400
    assert "分類は一覧から選んでください" in response.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(Inquiry, case.id).category == "roads"


def test_a_case_keeps_a_key_no_longer_listed_until_someone_chooses_another(as_operator,
                                                                          db_session):
    case = inquiries.create(db_session, category="parks", subject="公園の遊具", channel="ivr")
    page = as_operator.get(f"/console/inquiries/{case.id}").get_data(as_text=True)
    assert '<option value="parks" selected>parks</option>' in page
    response = post(as_operator, f"/console/inquiries/{case.id}", {
        "status": "in_progress", "category": "parks", "assigned_to": "0"},
        form_page=f"/console/inquiries/{case.id}")
    assert response.status_code == 302


def test_the_work_screen_refuses_an_unknown_category(as_operator, db_session):
    resident = factories.resident(db_session)
    response = post(as_operator, f"/console/work/residents/{resident.id}/inquiry", {
        "category": "ごみ", "subject": "回収"}, form_page="/console/work")
    assert response.status_code in (302, 303)
    assert db_session.scalar(select(Inquiry)) is None
    follow = as_operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "分類は一覧から選んでください" in follow


def test_lists_and_reports_name_categories_and_count_unlisted_ones_as_other(
        as_supervisor, db_session):
    for category, subject in (("waste", "粗大ごみ"), ("waste", "分別"), ("parks", "公園"),
                              ("other", "相談")):
        db_session.add(Inquiry(reference=f"I{len(subject):03d}{subject.encode().hex()[:6]}",
                               category=category, subject=subject, status="received",
                               channel="ivr", created_at=jst(10), updated_at=jst(10)))
    db_session.flush()
    listed = as_supervisor.get("/console/inquiries?category=waste").get_data(as_text=True)
    assert listed.count("<td>ごみ</td>") == 2
    html = as_supervisor.get(f"/console/reports/inquiries?from={DAY}&to={DAY}").get_data(
        as_text=True)
    assert '<td>その他</td><td class="num">2</td>' in html
    assert '<td>ごみ</td><td class="num">2</td>' in html
    assert "parks" not in html
