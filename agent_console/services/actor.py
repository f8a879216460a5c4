"""Who is acting: the operator and their address, as written into every audit row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from madoguchi import audit


@dataclass(frozen=True)
class Actor:
    """The logged-in operator and the address they work from."""

    operator_id: int
    username: str
    role: str
    ip: str

    def audit(
        self,
        session: Session,
        action: str,
        entity: str,
        entity_id: object = None,
        *,
        resident_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write one audit row for this operator (committed at once)."""
        audit.record(
            session,
            actor=self.username,
            action=action,
            entity=entity,
            entity_id=entity_id,
            resident_id=resident_id,
            operator_id=self.operator_id,
            ip=self.ip,
            detail=detail,
        )
