"""Sessions end on the server, parallel guessing cannot outrun the limit, logins are audited."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from agent_console.services import accounts, login_limit
from madoguchi.models import AuditEntry, ConsoleSession
from madoguchi.settings import WebSettings
from tests.agent_console.conftest import PASSWORD, csrf_token, login, post
from tests.conftest import app_on_test_engine

PROTECTED = ("/console/residents", "/console/reports/export.csv?kind=calls")


def session_cookie(client) -> str:
    """The value of the client's session cookie."""
    return client.get_cookie("session").value


def test_a_cookie_saved_before_logout_opens_nothing_afterwards(client, staff):
    assert login(client, staff.supervisor.username).status_code == 302
    saved = session_cookie(client)
    for url in PROTECTED:
        assert client.get(url).status_code == 200, url
    assert post(client, "/console/logout").status_code == 302
    client.set_cookie("session", saved)  # the attacker replays the copy
    for url in PROTECTED:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].startswith("/console/login")


def test_logout_closes_the_session_row_with_its_reason(as_operator, db_session):
    post(as_operator, "/console/logout")
    row = db_session.scalar(select(ConsoleSession))
    assert row.ended_at is not None and row.end_reason == "logout"


def test_only_a_hash_of_the_cookie_s_token_is_stored(client, staff, db_session):
    login(client, staff.operator.username)
    with client.session_transaction() as state:
        token = state["sid"]
    stored = db_session.scalar(select(ConsoleSession.token_hash))
    assert token not in stored and len(stored) == 64


def test_disabling_a_user_ends_their_sessions_on_the_server(app, client, staff, db_session):
    assert login(client, staff.operator.username).status_code == 302
    with app.app_context():  # disabling takes them off the line's board too
        accounts.set_active(db_session, staff.operator.id, False, acting_id=staff.admin.id)
    db_session.expire_all()
    assert db_session.scalar(select(ConsoleSession.end_reason)) == "disabled"
    assert client.get("/console/residents").status_code == 302


def test_changing_one_s_password_ends_the_other_sessions_but_not_this_one(app, client, staff,
                                                                         db_session):
    other = app.test_client()
    assert login(other, staff.operator.username).status_code == 302
    assert login(client, staff.operator.username).status_code == 302
    response = post(client, "/console/me/password", {
        "current_password": PASSWORD, "new_password": "a-new-long-secret",
        "repeat_password": "a-new-long-secret"}, form_page="/console/me")
    assert response.status_code == 302
    assert "パスワードを変更しました" in client.get("/console/me").get_data(as_text=True)
    assert client.get("/console/residents").status_code == 200
    assert other.get("/console/residents").status_code == 302
    assert login(app.test_client(), staff.operator.username, "a-new-long-secret"
                 ).status_code == 302
    reasons = sorted(r or "" for r in db_session.scalars(select(ConsoleSession.end_reason)))
    assert reasons == ["", "", "password"]
    audit = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "password_change"))
    assert audit.detail == {"sessions_ended": 1}


def test_a_wrong_current_password_changes_nothing(as_operator, staff):
    post(as_operator, "/console/me/password", {
        "current_password": "not-it", "new_password": "a-new-long-secret",
        "repeat_password": "a-new-long-secret"}, form_page="/console/me")
    assert "現在のパスワードが違います" in as_operator.get("/console/me").get_data(as_text=True)
    assert login(as_operator.application.test_client(), staff.operator.username
                 ).status_code == 302


def test_an_admin_sees_a_user_s_sessions_and_ends_one(app, as_admin, staff, db_session):
    operator_client = app.test_client()
    login(operator_client, staff.operator.username)
    page = as_admin.get(f"/console/admin/users/{staff.operator.id}/sessions")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Active sessions of operator-user" in text and "127.0.0.1" in text
    row = db_session.scalar(select(ConsoleSession).where(
        ConsoleSession.operator_id == staff.operator.id))
    response = as_admin.post(f"/console/admin/sessions/{row.id}/end",
                             data={"csrf_token": csrf_token(as_admin, "/console/admin/users")})
    assert response.status_code == 302
    assert operator_client.get("/console/residents").status_code == 302
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "end_session"))
    assert entry.entity_id == str(row.id) and entry.operator_id == staff.admin.id


def test_an_admin_setting_a_password_ends_all_that_user_s_sessions(app, as_admin, staff):
    operator_client = app.test_client()
    login(operator_client, staff.operator.username)
    as_admin.post(f"/console/admin/users/{staff.operator.id}/password", data={
        "new_password": "set-by-the-admin", "repeat_password": "set-by-the-admin",
        "csrf_token": csrf_token(as_admin, "/console/admin/users")})
    assert operator_client.get("/console/residents").status_code == 302
    assert login(app.test_client(), staff.operator.username, "set-by-the-admin"
                 ).status_code == 302


def test_forty_logins_at_the_same_moment_get_at_most_five_password_checks(app, committed_db,
                                                                         monkeypatch):
    # Real commits and one connection per request thread, as forty browsers would have.
    with committed_db() as db:
        target = accounts.create_operator(db, username="targeted", display_name="狙われた人",
                                          password=PASSWORD, role="operator")
    checked = []
    lock = threading.Lock()
    real_authenticate = accounts.authenticate

    def counting(session, username, password):
        with lock:
            checked.append(username)
        return real_authenticate(session, username, password)

    monkeypatch.setattr(accounts, "authenticate", counting)
    clients = [app.test_client() for _ in range(40)]
    forms = [{"username": target.username, "password": "guess",
              "csrf_token": csrf_token(c)} for c in clients]
    start = threading.Barrier(40)

    def guess(index: int) -> int:
        start.wait()
        return clients[index].post("/console/login", data=forms[index]).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(pool.map(guess, range(40)))
    summary = f"{len(checked)} checked; answers {sorted(statuses)}"
    assert len(checked) <= login_limit.MAX_ACCOUNT_ATTEMPTS, summary
    assert statuses.count(401) == len(checked), summary
    assert statuses.count(429) == 40 - len(checked), summary


def test_logins_failures_lockouts_and_logouts_are_in_the_audit_log(client, staff, db_session):
    login(client, staff.operator.username, "wrong")
    login(client, "nobody-by-this-name", "hunter2-typed-as-name")
    for _ in range(login_limit.MAX_ACCOUNT_ATTEMPTS):
        login(client, staff.operator.username, "wrong")
    login(client, staff.supervisor.username)
    post(client, "/console/logout")
    rows = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    actions = [row.action for row in rows]
    assert actions.count("login_failed") == 1 + 1 + (login_limit.MAX_ACCOUNT_ATTEMPTS - 1)
    assert actions.count("login_locked") == 1
    assert actions[-2:] == ["login", "logout"]
    known = next(row for row in rows if row.action == "login_failed")
    assert known.actor == staff.operator.username and known.ip == "127.0.0.1"
    unknown = next(row for row in rows if row.action == "login_failed"
                   and row.operator_id is None)
    assert "nobody-by-this-name" not in str(unknown.detail) + unknown.actor
    assert unknown.detail["username_length"] == len("nobody-by-this-name")
    assert len(unknown.detail["username_digest"]) == 16



def _failed_login_address(app, read_session, forwarded_for: str) -> str:
    client = app.test_client()
    client.post("/console/login", data={"username": "x-user", "password": "wrong",
                                        "csrf_token": csrf_token(client)},
                headers={"X-Forwarded-For": forwarded_for},
                environ_base={"REMOTE_ADDR": "10.0.0.2"})
    return read_session.scalar(select(AuditEntry.ip).where(AuditEntry.action == "login_failed"))


def test_forwarded_addresses_are_ignored_unless_a_proxy_is_configured(app, db_session):
    assert _failed_login_address(app, db_session, "203.0.113.9") == "10.0.0.2"


def test_with_one_trusted_proxy_the_client_address_comes_from_it(settings, engine, committed_db):
    behind = settings.model_copy(update={"file": settings.file.model_copy(
        update={"web": WebSettings(trusted_proxies=1)})})
    app = app_on_test_engine(behind, engine)
    with committed_db() as read_session:
        assert _failed_login_address(app, read_session, "198.51.100.1, 203.0.113.9") == (
            "203.0.113.9")
