"""Reading the audit log (admins only; the log itself is never changed)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from madoguchi.models import AuditEntry

PAGE_SIZE = 100


def page(session: Session, *, before_id: int | None = None, resident_id: int | None = None
         ) -> list[AuditEntry]:
    """Up to PAGE_SIZE entries, newest first, older than before_id, optionally for one resident."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PAGE_SIZE)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    if resident_id is not None:
        query = query.where(AuditEntry.resident_id == resident_id)
    return list(session.scalars(query))
