"""The audit log is append-only: any session that tries to change or remove a row is refused.

Registered on SQLAlchemy's Session class when madoguchi.db is imported, so every session the
application makes (web, worker, CLI) is covered. On PostgreSQL a trigger (migration 0005) refuses
the same at the database, for anyone connecting without the application.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from madoguchi.models import AuditEntry


class AuditLogIsAppendOnly(RuntimeError):
    """Raised when code tries to update or delete an audit row."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"the audit log is append-only: {what} of audit rows is refused; "
            "record a new row with madoguchi.audit.record instead"
        )


def _refuse_changed_rows(session: Session, _context, _instances) -> None:
    """Before a flush: no audit row may be among the changed or deleted objects."""
    if any(isinstance(obj, AuditEntry) for obj in session.deleted):
        raise AuditLogIsAppendOnly("deletion")
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) and session.is_modified(obj):
            raise AuditLogIsAppendOnly("a change")


def _refuse_bulk_statements(state: ORMExecuteState) -> None:
    """Bulk update()/delete() statements aimed at the audit log through a session."""
    if not (state.is_update or state.is_delete):
        return
    if any(mapper.class_ is AuditEntry for mapper in state.all_mappers):
        raise AuditLogIsAppendOnly("a bulk update" if state.is_update else "a bulk delete")


def install() -> None:
    """Attach the guard to every Session (idempotent)."""
    if not event.contains(Session, "before_flush", _refuse_changed_rows):
        event.listen(Session, "before_flush", _refuse_changed_rows)
    if not event.contains(Session, "do_orm_execute", _refuse_bulk_statements):
        event.listen(Session, "do_orm_execute", _refuse_bulk_statements)
