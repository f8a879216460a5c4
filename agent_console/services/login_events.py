"""Logins, failed logins, lockouts, logouts and ended sessions, written to the audit log.

A failed login for a user name that does not exist is written like any other failed login,
with the name as a keyed digest and its length instead of the text: the log never holds a
password typed into the name field, and nothing the attacker sees differs between the cases.
"""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy.orm import Session

from madoguchi import audit
from madoguchi.models import Operator

UNKNOWN_ACTOR = "(unknown user)"


def name_digest(username: str, secret: str) -> str:
    """A keyed, non-reversible tag of a typed user name (the same name gives the same tag)."""
    normalised = username.strip().lower().encode()
    return hmac.new(secret.encode(), normalised, hashlib.sha256).hexdigest()[:16]


def _who(operator: Operator | None, username: str, secret: str) -> tuple[str, int | None, dict]:
    if operator is not None:
        return operator.username, operator.id, {}
    return UNKNOWN_ACTOR, None, {"username_digest": name_digest(username, secret),
                                 "username_length": len(username.strip())}


def logged_in(db: Session, operator: Operator, ip: str, session_id: int | None) -> None:
    """A successful login."""
    audit.record(db, actor=operator.username, action="login", entity="console_session",
                 entity_id=session_id, operator_id=operator.id, ip=ip)


def login_failed(db: Session, operator: Operator | None, username: str, ip: str,
                 secret: str) -> None:
    """A wrong password or an unknown user name."""
    actor, operator_id, detail = _who(operator, username, secret)
    audit.record(db, actor=actor, action="login_failed", entity="operator",
                 entity_id=operator_id, operator_id=operator_id, ip=ip, detail=detail)


def locked_out(db: Session, operator: Operator | None, username: str, ip: str,
               secret: str, minutes: int) -> None:
    """Too many attempts: further logins are refused for a while."""
    actor, operator_id, detail = _who(operator, username, secret)
    audit.record(db, actor=actor, action="login_locked", entity="operator",
                 entity_id=operator_id, operator_id=operator_id, ip=ip,
                 detail={**detail, "minutes": minutes})


def logged_out(db: Session, operator_id: int, username: str, ip: str,
               session_id: int | None) -> None:
    """The user logged out."""
    audit.record(db, actor=username, action="logout", entity="console_session",
                 entity_id=session_id, operator_id=operator_id, ip=ip)


def session_ended(db: Session, *, admin_id: int, admin_name: str, ip: str,
                  session_id: int, owner_id: int) -> None:
    """An admin ended someone's session."""
    audit.record(db, actor=admin_name, action="end_session", entity="console_session",
                 entity_id=session_id, operator_id=admin_id, ip=ip,
                 detail={"owner_operator_id": owner_id})


def password_changed(db: Session, *, actor_id: int, actor_name: str, ip: str,
                     operator_id: int, sessions_ended: int) -> None:
    """A password was changed (by its user or an admin); their other sessions ended."""
    audit.record(db, actor=actor_name, action="password_change", entity="operator",
                 entity_id=operator_id, operator_id=actor_id, ip=ip,
                 detail={"sessions_ended": sessions_ended})
