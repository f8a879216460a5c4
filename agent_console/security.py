"""Who may do what, for how long: login, roles, session lifetime, headers, redirects.

CSRF protection and the session cookie's flags are app-wide (madoguchi.web_security).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, g, request, session
from flask_login import LoginManager, current_user, login_user, logout_user

from agent_console.services import console_sessions
from madoguchi.db import get_session
from madoguchi.models import ROLES, Operator, utcnow

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
    large_text: bool = False

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
        large_text=bool(operator.large_text),
    )


login_manager = LoginManager()
login_manager.login_view = "console.login"
# Cookie sessions: the absolute and idle limits below do the work; no "remember me".
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(user_id: str) -> ConsoleUser | None:
    """The operator of an open server-side session, else None (ended, expired, disabled…)."""
    raw_id, _, fingerprint = user_id.partition(":")
    if not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 12:
        return None
    check = console_sessions.check(get_session(), session.get("sid"), limits=session_limits(),
                                   now=utcnow())
    g.console_session = check
    if not check.open or check.operator_id != int(raw_id):
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


def session_limits() -> console_sessions.Limits:
    """The absolute and idle limits in force (tests may shorten them in the app's config)."""
    config = current_app.config
    return console_sessions.Limits(
        absolute_seconds=config.get("CONSOLE_ABSOLUTE_SESSION_SECONDS", ABSOLUTE_SESSION_SECONDS),
        idle_seconds=config.get("CONSOLE_IDLE_SESSION_SECONDS", IDLE_SESSION_SECONDS),
    )


def start_session(operator: Operator) -> int:
    """Log in on a brand-new session, recorded on the server (nothing from before survives).

    Returns the server-side session's id.
    """
    session.clear()
    session.permanent = True
    login_user(console_user(operator), fresh=True)
    token, session_id = console_sessions.start(
        get_session(), operator.id, ip=client_ip(), user_agent=request.user_agent.string,
        now=utcnow())
    session["sid"] = token
    return session_id


def refresh_login(operator: Operator) -> None:
    """Keep the same server-side session after the user's own password change."""
    login_user(console_user(operator), fresh=True)


def end_session(reason: str = "logout") -> int | None:
    """End the session on the server, then log out and forget the cookie; returns its id."""
    session_id = current_session_id()
    console_sessions.end(get_session(), session.get("sid"), reason, utcnow())
    logout_user()
    session.clear()
    return session_id


def current_session_id() -> int | None:
    """The id of the request's open server-side session (None when not logged in)."""
    check = g.get("console_session")
    return check.session_id if check is not None else None


def ended_session() -> console_sessions.Check | None:
    """The request's session when the server found it ended (idle, absolute, logout…)."""
    check = g.get("console_session")
    return check if check is not None and check.ended_reason is not None else None


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
