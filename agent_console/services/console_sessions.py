"""Console sessions kept on the server: started at login, checked on every request, ended for good.

The browser's signed cookie carries only a random token. The server keeps one row per login
(madoguchi.models.ConsoleSession) and lets a request in only while that row is open, within the
idle and absolute limits, and its operator still active. Logout, a password change, disabling a
user, an admin's "end session" and either limit close the row, so a saved cookie replayed later
opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from madoguchi.models import ConsoleSession, Operator

# How often a request refreshes last_seen_at: the idle limit is counted to within this, and
# a busy operator's clicks do not each write a row.
SEEN_GRANULARITY_SECONDS = 30
END_REASONS = ("logout", "idle", "absolute", "password", "disabled", "admin")


@dataclass(frozen=True)
class Limits:
    """How long a session may last in all, and without a request."""

    absolute_seconds: int
    idle_seconds: int


@dataclass(frozen=True)
class Check:
    """The outcome of checking a request's token: the open session, or why there is none."""

    session_id: int | None
    operator_id: int | None
    ended_reason: str | None

    @property
    def open(self) -> bool:
        """True when the request may go on as this session."""
        return self.session_id is not None


def token_hash(token: str) -> str:
    """The stored form of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def start(db: Session, operator_id: int, *, ip: str | None, user_agent: str | None,
          now: datetime) -> tuple[str, int]:
    """Open a session for a fresh login (commits); returns the cookie's token and the row id."""
    token = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=token_hash(token), operator_id=operator_id, created_at=now,
        last_seen_at=now, ip=(ip or "")[:64] or None, user_agent=(user_agent or "")[:200] or None,
    )
    db.add(row)
    db.commit()
    return token, row.id


def check(db: Session, token: str | None, *, limits: Limits, now: datetime) -> Check:
    """Is this token an open session? Ends it (commits) when a limit has just run out."""
    if not token or not isinstance(token, str) or len(token) > 100:
        return Check(None, None, None)
    row = db.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token)))
    if row is None:
        return Check(None, None, None)
    if row.ended_at is not None:
        return Check(None, row.operator_id, row.end_reason)
    reason = None
    if now - row.created_at > timedelta(seconds=limits.absolute_seconds):
        reason = "absolute"
    elif now - row.last_seen_at > timedelta(seconds=limits.idle_seconds):
        reason = "idle"
    else:
        operator = db.get(Operator, row.operator_id)
        if operator is None or not operator.active:
            reason = "disabled"
    if reason is not None:
        _end_rows(db, [row.id], reason, now)
        return Check(None, row.operator_id, reason)
    if now - row.last_seen_at >= timedelta(seconds=SEEN_GRANULARITY_SECONDS):
        row.last_seen_at = now
        db.commit()
    return Check(row.id, row.operator_id, None)


def end(db: Session, token: str | None, reason: str, now: datetime) -> int | None:
    """End the session of this token (commits); returns its operator's id, if it was open."""
    if not token:
        return None
    row = db.scalar(select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token),
                                                 ConsoleSession.ended_at.is_(None)))
    if row is None:
        return None
    _end_rows(db, [row.id], reason, now)
    return row.operator_id


def end_by_id(db: Session, session_id: int, reason: str, now: datetime) -> ConsoleSession | None:
    """End one session by its id (an admin's choice; commits); None when it was not open."""
    row = db.get(ConsoleSession, session_id)
    if row is None or row.ended_at is not None:
        return None
    _end_rows(db, [row.id], reason, now)
    return row


def end_all_for(db: Session, operator_id: int, reason: str, now: datetime,
                keep_session_id: int | None = None) -> int:
    """End every open session of an operator, but the one kept (commits); returns how many."""
    ids = [session_id for session_id in db.scalars(
        select(ConsoleSession.id).where(ConsoleSession.operator_id == operator_id,
                                        ConsoleSession.ended_at.is_(None)))
        if session_id != keep_session_id]
    _end_rows(db, ids, reason, now)
    return len(ids)


def open_sessions(db: Session, operator_id: int) -> list[ConsoleSession]:
    """An operator's open sessions, the most recently used first."""
    return list(db.scalars(
        select(ConsoleSession).where(ConsoleSession.operator_id == operator_id,
                                     ConsoleSession.ended_at.is_(None))
        .order_by(ConsoleSession.last_seen_at.desc())))


def _end_rows(db: Session, ids: list[int], reason: str, now: datetime) -> None:
    if reason not in END_REASONS:
        raise ValueError(f"unknown end reason {reason!r}; expected one of {END_REASONS}")
    if ids:
        db.execute(update(ConsoleSession)
                   .where(ConsoleSession.id.in_(ids), ConsoleSession.ended_at.is_(None))
                   .values(ended_at=now, end_reason=reason)
                   .execution_options(synchronize_session=False))
    db.commit()
