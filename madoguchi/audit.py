"""The audit log: every console read or write of a resident's record leaves a row."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from madoguchi.models import AuditEntry


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: object = None,
    resident_id: int | None = None,
    operator_id: int | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
    commit: bool = True,
) -> AuditEntry:
    """Append one audit row (who, what, which record); the log is never updated or deleted."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        resident_id=resident_id,
        operator_id=operator_id,
        ip=ip,
        detail=detail or {},
    )
    session.add(entry)
    if commit:
        session.commit()
    return entry
