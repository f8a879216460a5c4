"""Who may open what: login, roles, session limits, CSRF, redirects, cookies and headers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from agent_console.security import safe_next
from agent_console.services import login_limit
from madoguchi.models import ConsoleSession, Operator, utcnow
from tests.agent_console.conftest import PASSWORD, csrf_token, login, post

# The role × route table (every route, every role, CSRF on every POST, headers on every answer)
# is test_route_access_table.py; the roles are declared on the views with @role_required.


def test_the_403_page_names_the_role_needed_in_the_user_s_language(as_operator):
    page = as_operator.get("/console/admin/audit")
    assert page.status_code == 403
    assert "この画面は管理者のみ使えます" in page.get_data(as_text=True)


def test_each_role_opens_its_own_pages(as_admin):
    for url in ("/console/residents", "/console/inquiries", "/console/faq",
                "/console/admin/users", "/console/admin/audit", "/console/inquiries/new",
                "/console/faq/new"):
        assert as_admin.get(url).status_code == 200, url


def test_a_wrong_password_is_refused_with_a_clear_message(client, staff):
    response = login(client, staff.operator.username, "wrong-password")
    assert response.status_code == 401
    assert "ユーザー名またはパスワードが違います" in response.get_data(as_text=True)
    assert client.get("/console/residents").status_code == 302


def test_the_password_is_stored_hashed(db_session, staff):
    stored = db_session.scalar(select(Operator.password_hash).where(Operator.id == staff.admin.id))
    assert PASSWORD not in stored
    assert stored.startswith(("scrypt:", "pbkdf2:"))


def test_a_disabled_user_cannot_log_in_and_their_open_session_ends(client, staff, db_session):
    assert login(client, staff.operator.username).status_code == 302
    operator = db_session.get(Operator, staff.operator.id)
    operator.active = False
    db_session.commit()
    assert client.get("/console/residents").status_code == 302
    assert login(client, staff.operator.username).status_code == 401


def test_a_post_without_csrf_token_is_refused(as_operator):
    response = as_operator.post("/console/language", data={"language": "en"})
    assert response.status_code == 400
    assert "フォームの有効期限が切れました" in response.get_data(as_text=True)


def test_the_login_form_itself_needs_a_csrf_token(client, staff):
    response = client.post("/console/login",
                           data={"username": staff.operator.username, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/console/residents").status_code == 302


def test_the_json_api_is_not_subject_to_the_console_s_csrf_check(client):
    response = client.post("/api/bookings", json={})
    assert response.status_code != 400 or "CSRF" not in response.get_data(as_text=True)
    assert response.is_json


def test_login_starts_a_new_session_and_drops_what_was_planted_before(client, staff):
    with client.session_transaction() as planted:
        planted["sid"] = "attacker-chosen"
        planted["planted"] = "value"
    login(client, staff.operator.username)
    with client.session_transaction() as after:
        assert after.get("sid") not in (None, "attacker-chosen")
        assert "planted" not in after
        assert after["_user_id"].startswith(f"{staff.operator.id}:")


def test_two_logins_get_different_session_ids(client, staff):
    login(client, staff.operator.username)
    with client.session_transaction() as first:
        first_sid = first["sid"]
    post(client, "/console/logout")
    login(client, staff.operator.username)
    with client.session_transaction() as second:
        assert second["sid"] != first_sid


def test_logout_ends_the_session(as_operator):
    response = post(as_operator, "/console/logout")
    assert response.status_code == 302
    assert as_operator.get("/console/residents").status_code == 302


def _age_session(db_session, **ago: int) -> None:
    """Move the open session's times back by the given seconds (created / last_seen)."""
    row = db_session.scalar(select(ConsoleSession).where(ConsoleSession.ended_at.is_(None)))
    if "created" in ago:
        row.created_at = row.created_at - timedelta(seconds=ago["created"])
    if "last_seen" in ago:
        row.last_seen_at = row.last_seen_at - timedelta(seconds=ago["last_seen"])
    db_session.commit()


def test_an_idle_session_ends_after_thirty_minutes(as_operator, db_session):
    _age_session(db_session, last_seen=31 * 60)
    response = as_operator.get("/console/residents")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login")
    page = as_operator.get(response.headers["Location"]).get_data(as_text=True)
    assert "一定時間操作がなかったため" in page
    db_session.expire_all()
    assert db_session.scalar(select(ConsoleSession.end_reason)) == "idle"


def test_a_session_ends_eight_hours_after_login_even_when_active(as_operator, db_session):
    _age_session(db_session, created=8 * 3600 + 1)
    response = as_operator.get("/console/residents")
    assert response.status_code == 302
    assert "8時間が過ぎたため" in as_operator.get(response.headers["Location"]).get_data(
        as_text=True)
    assert as_operator.get("/console/residents").status_code == 302


def test_activity_keeps_a_session_alive(as_operator, db_session):
    _age_session(db_session, last_seen=29 * 60)
    assert as_operator.get("/console/residents").status_code == 200
    db_session.expire_all()
    seen = db_session.scalar(select(ConsoleSession.last_seen_at))
    assert utcnow() - seen < timedelta(seconds=5)


def test_next_leads_back_to_the_page_asked_for(client, staff):
    first = client.get("/console/inquiries?status=done")
    assert "next=" in first.headers["Location"]
    response = login(client, staff.operator.username, next_url="/console/inquiries?status=done")
    assert response.headers["Location"] == "/console/inquiries?status=done"


def test_safe_next_keeps_only_local_paths():
    assert safe_next("/console/inquiries", "/d") == "/console/inquiries"
    assert safe_next("//x.example", "/d") == "/d"
    assert safe_next("/ok\r\nSet-Cookie: x", "/d") == "/d"
    assert safe_next(None, "/d") == "/d"


def test_five_failed_logins_block_that_account(client, staff):
    for _ in range(login_limit.MAX_ACCOUNT_ATTEMPTS):
        assert login(client, staff.operator.username, "wrong").status_code == 401
    blocked = login(client, staff.operator.username)
    assert blocked.status_code == 429
    assert "15分間ログインできません" in blocked.get_data(as_text=True)
    assert client.get("/console/residents").status_code == 302


def test_a_blocked_account_stays_blocked_from_another_address_but_others_log_in(client, staff):
    for _ in range(login_limit.MAX_ACCOUNT_ATTEMPTS):
        login(client, staff.operator.username, "wrong")
    assert login(client, staff.supervisor.username).status_code == 302
    other = client.application.test_client()
    data = {"username": staff.operator.username, "password": PASSWORD,
            "csrf_token": csrf_token(other)}
    response = other.post("/console/login", data=data,
                          environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert response.status_code == 429


def test_one_address_guessing_many_accounts_is_blocked_too(client, staff):
    for index in range(login_limit.MAX_ADDRESS_ATTEMPTS):
        assert login(client, f"guess-{index}", "wrong").status_code == 401
    assert login(client, staff.operator.username).status_code == 429


def test_the_counts_are_kept_in_redis_for_every_web_process(client, staff, redis_client):
    login(client, staff.operator.username, "wrong")
    keys = redis_client.keys(login_limit.KEY_PREFIX + "*")
    assert len(keys) == 2  # the account's and the address's
    for key in keys:
        assert int(redis_client.get(key)) == 1
        assert 0 < redis_client.ttl(key) <= login_limit.WINDOW_SECONDS
        assert staff.operator.username.encode() not in key


def test_a_successful_login_clears_the_account_s_failures(client, staff, redis_client):
    for _ in range(login_limit.MAX_ACCOUNT_ATTEMPTS - 1):
        login(client, staff.operator.username, "wrong")
    assert login(client, staff.operator.username).status_code == 302
    keys = redis_client.keys(login_limit.KEY_PREFIX + "*")
    assert [key for key in keys if b":account:" in key] == []
    address = [key for key in keys if b":address:" in key]
    assert [int(redis_client.get(key)) for key in address] == [
        login_limit.MAX_ACCOUNT_ATTEMPTS - 1]  # the failures; the success gave its place back


def test_without_redis_the_limit_still_holds_inside_the_process(app, client, staff, monkeypatch):
    from redis.exceptions import ConnectionError as RedisConnectionError

    def unreachable():
        raise RedisConnectionError("down")

    monkeypatch.setattr(login_limit, "get_redis", unreachable)
    for _ in range(login_limit.MAX_ACCOUNT_ATTEMPTS):
        assert login(client, staff.operator.username, "wrong").status_code == 401
    assert login(client, staff.operator.username).status_code == 429
    assert login(client, staff.supervisor.username).status_code == 302


def test_the_session_cookie_is_httponly_lax_and_secure_on_https(client, staff):
    response = login(client, staff.operator.username)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" in cookie  # the test settings' PUBLIC_BASE_URL is https


def test_console_pages_send_security_headers(client):
    response = client.get("/console/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_load_no_file_from_another_host_and_no_inline_script(as_admin):
    for url in ("/console/login", "/console/residents", "/console/inquiries",
                "/console/faq/new", "/console/admin/users", "/console/admin/audit"):
        page = as_admin.get(url).get_data(as_text=True)
        assert "http://" not in page and "https://" not in page, url
        assert "<script>" not in page and "style=" not in page and "onclick" not in page, url


def test_the_static_files_are_served_from_the_console(client):
    assert client.get("/console/static/console.css").status_code == 200
    assert client.get("/console/static/console.js").status_code == 200


def test_an_operator_chooses_english_and_the_console_follows(as_operator):
    choice = {"language": "en", "back": "/console/inquiries"}
    response = post(as_operator, "/console/language", choice)
    assert response.headers["Location"] == "/console/inquiries"
    assert "Find a resident" in as_operator.get("/console/residents").get_data(as_text=True)


def test_after_login_everyone_lands_on_the_work_screen(client, staff):
    response = login(client, staff.operator.username)
    assert client.get(response.headers["Location"]).headers["Location"] == "/console/work"
