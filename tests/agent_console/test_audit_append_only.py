"""The audit log only grows: the application refuses to change or delete a row, and only admins
read it."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from madoguchi import audit
from madoguchi.audit_guard import AuditLogIsAppendOnly
from madoguchi.models import AuditEntry
from tests import factories
from tests.agent_console.conftest import login


@pytest.fixture
def entry(db_session) -> AuditEntry:
    """One audit row about a resident, as a console read writes it."""
    resident = factories.resident(db_session, name="監査 花子")
    db_session.commit()
    return audit.record(db_session, actor="operator-user", action="view", entity="resident",
                        entity_id=resident.id, resident_id=resident.id, ip="192.0.2.1")


def stored_action(db_session, entry_id: int) -> str:
    db_session.expire_all()
    return db_session.scalar(select(AuditEntry.action).where(AuditEntry.id == entry_id))


def test_recording_appends_a_row(db_session, entry):
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == 1
    assert stored_action(db_session, entry.id) == "view"


def test_changing_a_row_is_refused_and_nothing_changes(db_session, entry):
    entry.action = "nothing-happened"
    with pytest.raises(AuditLogIsAppendOnly, match="append-only"):
        db_session.commit()
    db_session.rollback()
    assert stored_action(db_session, entry.id) == "view"


def test_deleting_a_row_is_refused(db_session, entry):
    db_session.delete(entry)
    with pytest.raises(AuditLogIsAppendOnly):
        db_session.flush()
    db_session.rollback()
    assert stored_action(db_session, entry.id) == "view"


@pytest.mark.parametrize("statement", [
    update(AuditEntry).values(action="edited"),
    delete(AuditEntry),
], ids=["bulk update", "bulk delete"])
def test_bulk_statements_on_the_log_are_refused(db_session, entry, statement):
    with pytest.raises(AuditLogIsAppendOnly):
        db_session.execute(statement)
    db_session.rollback()
    assert stored_action(db_session, entry.id) == "view"


def test_other_rows_are_still_updated_in_the_same_session(db_session, entry):
    resident = factories.resident(db_session)
    db_session.commit()
    resident.language = "en"
    audit.record(db_session, actor="operator-user", action="edit", entity="resident",
                 resident_id=resident.id)
    assert stored_action(db_session, entry.id) == "view"


def test_on_postgresql_the_database_refuses_a_direct_update_too(db_session, entry, on_postgres):
    if not on_postgres:
        pytest.skip("the trigger exists on PostgreSQL only; SQLite relies on the session guard")
    connection = db_session.connection()
    with pytest.raises(DBAPIError, match="append-only"), connection.begin_nested():
        connection.execute(text("UPDATE audit_log SET action = 'x'"))
    with pytest.raises(DBAPIError, match="append-only"), connection.begin_nested():
        connection.execute(text("DELETE FROM audit_log"))
    assert stored_action(db_session, entry.id) == "view"


@pytest.mark.parametrize("role", ["operator", "supervisor"])
def test_only_admins_may_read_the_log(client, staff, entry, role):
    login(client, getattr(staff, role).username)
    response = client.get("/console/admin/audit")
    assert response.status_code == 403
    assert "監査" not in response.get_data(as_text=True)


def test_an_admin_reads_the_log_and_filters_it_by_resident(as_admin, db_session, entry):
    other = factories.resident(db_session)
    db_session.commit()
    audit.record(db_session, actor="admin-user", action="edit", entity="resident",
                 entity_id=other.id, resident_id=other.id)
    page = as_admin.get("/console/admin/audit").get_data(as_text=True)
    assert "operator-user" in page and "admin-user" in page
    one = as_admin.get(f"/console/admin/audit?resident={entry.resident_id}").get_data(as_text=True)
    assert "operator-user" in one and "admin-user" not in one
