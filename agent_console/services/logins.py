"""One login attempt: counted first, then the password, then the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from agent_console.services import accounts, login_events, login_limit
from madoguchi.models import Operator


@dataclass(frozen=True)
class LoginResult:
    """The operator who logged in, or why not: refused (too many attempts) or a wrong answer."""

    operator: Operator | None
    refused: bool = False


def attempt(db: Session, username: str, password: str, *, ip: str, secret: str) -> LoginResult:
    """Check a login under the attempt limits; every failure and lockout is audited."""
    counted = login_limit.reserve(username, ip)
    if not counted.allowed:
        if counted.locks_now:
            login_events.locked_out(db, accounts.find_by_username(db, username), username, ip,
                                    secret, login_limit.window_minutes())
        return LoginResult(None, refused=True)
    operator = accounts.authenticate(db, username, password)
    if operator is None:
        login_events.login_failed(db, accounts.find_by_username(db, username), username, ip,
                                  secret)
        return LoginResult(None)
    login_limit.succeeded(username, ip)
    return LoginResult(operator)
