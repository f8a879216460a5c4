"""My settings: the console language and how calls reach the operator (browser or a phone)."""

from __future__ import annotations

from sqlalchemy import select

from madoguchi.models import AuditEntry, Operator
from tests.agent_console.conftest import post


def _save(client, **fields):
    return post(client, "/console/me", {"language": "ja", "reach_by": "browser", **fields},
                form_page="/console/me")


def _operator(session, operator_id: int) -> Operator:
    return session.get(Operator, operator_id, populate_existing=True)


def test_a_phone_number_typed_any_way_is_saved_and_read_back_in_national_form(
        as_operator, db_session, staff):
    response = _save(as_operator, reach_by="phone", phone="０９０ー１１１１ー２２２２")
    assert response.status_code == 302
    saved = _operator(db_session, staff.operator.id)
    assert (saved.reach_by, saved.phone_e164) == ("phone", "+819011112222")
    page = as_operator.get("/console/me").get_data(as_text=True)
    assert "個人設定を保存しました。" in page
    assert 'value="090-1111-2222"' in page and "現在:電話は 090-1111-2222 にかかります。" in page


def test_the_change_is_audited_with_the_number_masked(as_operator, db_session, staff):
    _save(as_operator, reach_by="phone", phone="090-1111-2222")
    [row] = db_session.scalars(select(AuditEntry).where(AuditEntry.entity == "operator"))
    assert row.action == "update" and row.entity_id == str(staff.operator.id)
    assert row.detail["reach_by"] == "phone" and row.detail["phone"] == "+81******2222"


def test_a_bad_number_is_refused_with_an_example_and_nothing_is_saved(as_operator, db_session,
                                                                     staff):
    response = _save(as_operator, reach_by="phone", phone="12345")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "「12345」は電話番号として使えません。" in page and "090-1234-5678" in page
    saved = _operator(db_session, staff.operator.id)
    assert (saved.reach_by, saved.phone_e164) == ("browser", None)


def test_choosing_a_phone_without_a_number_says_to_type_one(as_operator, db_session, staff):
    response = _save(as_operator, reach_by="phone", phone="")
    assert response.status_code == 400
    assert "受ける電話番号を入力してください" in response.get_data(as_text=True)
    assert _operator(db_session, staff.operator.id).reach_by == "browser"


def test_going_back_to_the_browser_keeps_a_number_given_and_rings_the_browser(
        as_operator, db_session, staff):
    _save(as_operator, reach_by="phone", phone="090-1111-2222")
    _save(as_operator, reach_by="browser", phone="090-1111-2222")
    saved = _operator(db_session, staff.operator.id)
    assert (saved.reach_by, saved.phone_e164) == ("browser", "+819011112222")
    assert "現在:電話はこのブラウザで受けます。" in as_operator.get("/console/me").get_data(
        as_text=True)


def test_the_console_language_is_chosen_on_the_same_page(as_operator, db_session, staff):
    _save(as_operator, language="en")
    assert _operator(db_session, staff.operator.id).language == "en"
    page = as_operator.get("/console/me").get_data(as_text=True)
    assert "Your settings are saved." in page and "How calls reach you" in page


def test_every_page_links_to_my_settings(as_operator):
    page = as_operator.get("/console/residents").get_data(as_text=True)
    assert 'href="/console/me"' in page


def test_without_the_softphone_the_page_says_how_to_be_reached_instead(as_operator):
    page = as_operator.get("/console/me").get_data(as_text=True)
    assert 'id="softphone"' not in page  # the simulator plays the operator's side here


def test_an_admin_sets_how_an_operator_is_reached_from_the_users_page(as_admin, db_session,
                                                                      staff):
    response = post(as_admin, f"/console/admin/users/{staff.operator.id}/reach",
                    {"reach_by": "phone", "phone": "03-5555-0000"},
                    form_page="/console/admin/users")
    assert response.status_code == 302
    saved = _operator(db_session, staff.operator.id)
    assert (saved.reach_by, saved.phone_e164) == ("phone", "+81355550000")
    page = as_admin.get("/console/admin/users").get_data(as_text=True)
    assert f"How calls reach {staff.operator.username} is saved." in page
    assert 'value="03-5555-0000"' in page


def test_an_admin_typing_a_bad_number_is_told_and_nothing_changes(as_admin, db_session, staff):
    post(as_admin, f"/console/admin/users/{staff.operator.id}/reach",
         {"reach_by": "phone", "phone": "abc"}, form_page="/console/admin/users")
    page = as_admin.get("/console/admin/users").get_data(as_text=True)
    assert "&#34;abc&#34; is not a usable phone number" in page
    assert _operator(db_session, staff.operator.id).reach_by == "browser"


def test_larger_text_is_remembered_for_the_user_and_set_on_every_page(
        as_operator, db_session, staff):
    assert 'class="large-text"' not in as_operator.get("/console/work").get_data(as_text=True)
    _save(as_operator, large_text="y")
    assert _operator(db_session, staff.operator.id).large_text is True
    for url in ("/console/work", "/console/residents", "/console/me"):
        page = as_operator.get(url).get_data(as_text=True)
        assert '<html lang="ja" class="large-text">' in page, url
    assert 'name="large_text" value="y" aria-describedby="my-large-text-hint" checked' in page
    [row] = db_session.scalars(select(AuditEntry).where(AuditEntry.entity == "operator"))
    assert row.detail["large_text"] is True


def test_saving_without_the_box_ticked_goes_back_to_ordinary_text(as_operator, db_session, staff):
    _save(as_operator, large_text="y")
    _save(as_operator)
    assert _operator(db_session, staff.operator.id).large_text is False
    assert "large-text" not in as_operator.get("/console/work").get_data(as_text=True)
