"""Console users: checking a password, creating, disabling and listing operators."""

from __future__ import annotations

import logging
import re

from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from agent_console.i18n import LANGUAGES
from agent_console.services import console_sessions
from call_queue import line_services, operator_states
from madoguchi.models import ROLES, Operator, utcnow

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{2,60}$")
MIN_PASSWORD_LENGTH = 8
# Checked when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("no user has this password")


class AccountError(ValueError):
    """A user could not be created or changed; `key` names the console message to show."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def find_by_username(session: Session, username: str) -> Operator | None:
    """The console user with this name (any case), active or not."""
    return session.scalar(
        select(Operator).where(func.lower(Operator.username) == username.strip().lower())
    )


def authenticate(session: Session, username: str, password: str) -> Operator | None:
    """The active operator with this username and password, else None; notes the login time."""
    operator = find_by_username(session, username)
    if operator is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(operator.password_hash, password) or not operator.active:
        return None
    operator.last_login_at = utcnow()
    session.commit()
    return operator


def create_operator(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str,
    role: str,
    language: str = "ja",
) -> Operator:
    """Add a console user with a hashed password; raises AccountError saying what to fix."""
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise AccountError("username_invalid")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError("password_too_short", min=MIN_PASSWORD_LENGTH)
    if role not in ROLES or language not in LANGUAGES:
        raise AccountError("form_invalid")
    taken = session.scalar(
        select(Operator.id).where(func.lower(Operator.username) == username.lower())
    )
    if taken is not None:
        raise AccountError("user_exists", username=username)
    operator = Operator(
        username=username,
        display_name=display_name.strip() or username,
        password_hash=generate_password_hash(password),
        role=role,
        language=language,
        active=True,
    )
    session.add(operator)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise AccountError("user_exists", username=username) from None
    return operator


def set_active(session: Session, operator_id: int, active: bool, *, acting_id: int) -> Operator:
    """Enable or disable a user; disabling ends their open sessions on the server."""
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise AccountError("not_found")
    if operator.id == acting_id and not active:
        raise AccountError("cannot_disable_self")
    if not active and operator.active:
        _set_offline(session, operator.id)
    operator.active = active
    if active:
        session.commit()
    else:
        # One transaction: disabled and every session ended, or neither.
        console_sessions.end_all_for(session, operator.id, "disabled", utcnow())
    return operator


def _set_offline(session: Session, operator_id: int) -> None:
    """Offline on the line's board, so no caller is given to a disabled account."""
    try:
        operator_states.set_state(session, line_services.board(), operator_id, "offline",
                                  utcnow())
    except RedisError:
        # Dispatch takes a disabled account off the board when it meets one.
        log.warning("operator %d not taken off the board: Redis unreachable", operator_id)


def change_own_password(session: Session, operator_id: int, *, current: str, new: str,
                        repeated: str, keep_session_id: int | None) -> int:
    """A user changes their password; their other sessions end. Returns how many ended."""
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise AccountError("not_found")
    if not check_password_hash(operator.password_hash, current):
        raise AccountError("password_wrong")
    return _set_password(session, operator, new, repeated, keep_session_id)


def set_password(session: Session, operator_id: int, *, new: str, repeated: str) -> int:
    """An admin sets a user's password; all that user's sessions end. Returns how many."""
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise AccountError("not_found")
    return _set_password(session, operator, new, repeated, None)


def _set_password(session: Session, operator: Operator, new: str, repeated: str,
                  keep_session_id: int | None) -> int:
    if len(new) < MIN_PASSWORD_LENGTH:
        raise AccountError("password_too_short", min=MIN_PASSWORD_LENGTH)
    if new != repeated:
        raise AccountError("password_mismatch")
    operator.password_hash = generate_password_hash(new)
    # One transaction with the new hash: never a new password with the old sessions still open.
    return console_sessions.end_all_for(session, operator.id, "password", utcnow(),
                                        keep_session_id=keep_session_id)


def set_language(session: Session, operator_id: int, language: str) -> None:
    """Store the operator's console language."""
    if language not in LANGUAGES:
        raise AccountError("form_invalid")
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise AccountError("not_found")
    operator.language = language
    session.commit()


def set_large_text(session: Session, operator_id: int, large: bool) -> None:
    """Store whether the operator's console shows larger text."""
    operator = session.get(Operator, operator_id)
    if operator is None:
        raise AccountError("not_found")
    operator.large_text = bool(large)
    session.commit()


def language_of(session: Session, operator_id: int | None) -> str | None:
    """An operator's console language (None when unknown)."""
    operator = session.get(Operator, operator_id) if operator_id is not None else None
    return operator.language if operator is not None else None


def all_operators(session: Session) -> list[Operator]:
    """Every console user, by username."""
    return list(session.scalars(select(Operator).order_by(Operator.username)))


def active_operators(session: Session) -> list[Operator]:
    """Users who may be assigned work, by display name."""
    return list(
        session.scalars(
            select(Operator).where(Operator.active.is_(True)).order_by(Operator.display_name)
        )
    )
