"""The one rewrite the append-only audit log ever gets: an earlier version's personal data out.

Earlier versions wrote into audit rows what a name search typed, the words of every text message
and a supervisor's free-text reason. `madoguchi db upgrade` rewrites those rows once, as the
current version writes them: the search as its kind and length, the message moved into the
sealed text_messages table and named by id, the reason left on the (sealed) booking. Who did
what, when, to which resident, with which result stays exactly as it was. On PostgreSQL the
append-only trigger is suspended for this one transaction only.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import JSON, Connection, bindparam, column, insert, select, table, update


def _audit_table():
    from madoguchi.models import UTCDateTime

    return table("audit_log", column("id"), column("at", UTCDateTime()), column("action"),
                 column("operator_id"), column("resident_id"), column("detail", JSON))
_MASKED = re.compile(r"^(phone |\(phone\)$|\+?\d{0,2}\*+\d{0,4}$)")
_SMS_ACTIONS = ("send_sms", "sms_failed")


def _search(detail: dict[str, Any]) -> dict[str, Any] | None:
    query = detail.get("query")
    if not isinstance(query, str) or _MASKED.match(query) or query.endswith(" characters)"):
        return None
    return {**detail, "query": f"text ({len(query)} characters)"}


def _override(detail: dict[str, Any]) -> dict[str, Any] | None:
    if "reason" not in detail:
        return None
    reason = detail.get("reason")
    return {**{k: v for k, v in detail.items() if k != "reason"}, "reason_given": bool(reason)}


def redact(connection: Connection) -> int:
    """Rewrite the earlier version's audit rows that hold personal data; returns how many."""
    from madoguchi.models import TextMessage

    _audit = _audit_table()
    rows = connection.execute(select(_audit).where(_audit.c.action.in_(
        ["search", "book_beyond_capacity", *_SMS_ACTIONS]))).all()
    changes: list[dict[str, Any]] = []
    for row in rows:
        detail = dict(row.detail or {})
        if row.action == "search":
            new = _search(detail)
        elif row.action == "book_beyond_capacity":
            new = _override(detail)
        elif "body" in detail or "error" in detail:
            message = connection.execute(insert(TextMessage.__table__).values(
                resident_id=row.resident_id, operator_id=row.operator_id,
                kind=str(detail.get("kind") or "text")[:20], to_e164=None,
                body=str(detail.get("body") or ""), error=detail.get("error"),
                status="sent" if row.action == "send_sms" else "failed",
                sid=detail.get("sid"), sent_at=row.at)
                .returning(TextMessage.__table__.c.id)).scalar_one()
            new = {k: v for k, v in detail.items() if k not in ("body", "error")}
            new["message_id"] = message
        else:
            new = None
        if new is not None and new != detail:
            changes.append({"b_id": row.id, "b_detail": new})
    if not changes:
        return 0
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        connection.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    connection.execute(update(_audit).where(_audit.c.id == bindparam("b_id"))
                       .values(detail=bindparam("b_detail")), changes)
    if postgres:
        connection.exec_driver_sql("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    return len(changes)
