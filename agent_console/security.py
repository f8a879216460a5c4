"""Who may do what, for how long: login, roles, session lifetime, headers, redirects.

CSRF protection and the session cookie's flags are app-wide (madoguchi.web_security).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, request, session
from flask_login import LoginManager, current_user, login_user, logout_user

from madoguchi.db import get_session
from madoguchi.models import ROLES, Operator

# A working day plus overtime, then a fresh login; half an hour away from the desk logs out.
ABSOLUTE_SESSION_SECONDS = 8 * 60 * 60
IDLE_SESSION_SECONDS = 30 * 60
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}

# Only our own files: no inline script or style, nothing from other hosts, never in a frame.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Pages that may carry the browser softphone also talk to Twilio: signalling over wss and the
# SDK's call-quality reports over https. Still no script from anywhere but our own files.
SOFTPHONE_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "default-src 'self';",
    "default-src 'self'; connect-src 'self' wss://*.twilio.com https://*.twilio.com;",
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class ConsoleUser:
    """The logged-in operator as Flask-Login sees it (plain values, no database session)."""

    id: int
    username: str
    display_name: str
    role: str
    language: str
    password_fingerprint: str

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        """The session's user id; it includes the password so a new password ends old sessions."""
        return f"{self.id}:{self.password_fingerprint}"

    def has_role(self, role: str) -> bool:
        """True when this user's role is the given one or a higher one."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


def password_fingerprint(password_hash: str) -> str:
    """A short, non-reversible tag of the stored password hash."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def console_user(operator: Operator) -> ConsoleUser:
    """The session view of an operator row."""
    return ConsoleUser(
        id=operator.id,
        username=operator.username,
        display_name=operator.display_name,
        role=operator.role,
        language=operator.language,
        password_fingerprint=password_fingerprint(operator.password_hash),
    )


login_manager = LoginManager()
login_manager.login_view = "console.login"
# Cookie sessions: the absolute and idle limits below do the work; no "remember me".
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str) -> ConsoleUser | None:
    """The operator of a session, or None when disabled, deleted or their password changed."""
    raw_id, _, fingerprint = user_id.partition(":")
    if not raw_id.isdigit():
        return None
    operator = get_session().get(Operator, int(raw_id))
    if operator is None or not operator.active:
        return None
    user = console_user(operator)
    return user if secrets.compare_digest(user.password_fingerprint, fingerprint) else None


@login_manager.unauthorized_handler
def _unauthorized():
    from flask import flash, redirect, url_for

    from agent_console.i18n import translate

    flash(translate("login_required"), "info")
    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))


def start_session(operator: Operator) -> None:
    """Log in on a brand-new session: nothing from before the login survives (no fixation)."""
    session.clear()
    session.permanent = True
    login_user(console_user(operator), fresh=True)
    now = int(time.time())
    session["sid"] = secrets.token_urlsafe(16)
    session["login_at"] = now
    session["seen_at"] = now


def end_session() -> None:
    """Log out and forget everything in the session."""
    logout_user()
    session.clear()


def session_expiry_reason(now: float | None = None) -> str | None:
    """'session_too_long' or 'session_expired' when the session must end, else None."""
    now = time.time() if now is None else now
    config = current_app.config
    absolute = config.get("CONSOLE_ABSOLUTE_SESSION_SECONDS", ABSOLUTE_SESSION_SECONDS)
    idle = config.get("CONSOLE_IDLE_SESSION_SECONDS", IDLE_SESSION_SECONDS)
    login_at, seen_at = session.get("login_at"), session.get("seen_at")
    if login_at is None or seen_at is None:
        return "session_expired"
    if now - login_at > absolute:
        return "session_too_long"
    if now - seen_at > idle:
        return "session_expired"
    return None


def touch_session(now: float | None = None) -> None:
    """Note activity so the idle limit counts from now."""
    session["seen_at"] = int(time.time() if now is None else now)


def role_required(role: str) -> Callable[[F], F]:
    """Let in only logged-in users of this role or a higher one; others get 403."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(role):
                abort(403, description=role)
            return view(*args, **kwargs)

        wrapper.required_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def safe_next(target: str | None, default: str) -> str:
    """The `next` address when it stays on this site (a path), else the default."""
    if not target:
        return default
    target = target.strip()
    parts = urlsplit(target)
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(char) < 32 for char in target)
    ):
        return default
    return target


def client_ip() -> str:
    """The caller's address (ProxyFix, when configured, has already put the real one here)."""
    return request.remote_addr or "unknown"
