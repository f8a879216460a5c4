"""Small helpers the console's views share."""

from __future__ import annotations

from datetime import date

from flask import current_app
from flask_login import current_user

from agent_console.security import client_ip
from agent_console.services.actor import Actor
from madoguchi.query_values import parse_day, parse_id
from madoguchi.settings import Settings


def current_actor() -> Actor:
    """The logged-in operator as the author of audit rows."""
    return Actor(
        operator_id=current_user.id,
        username=current_user.username,
        role=current_user.role,
        ip=client_ip(),
    )


def settings() -> Settings:
    """The app's settings."""
    return current_app.config["SETTINGS"]


def parse_date(raw: str | None) -> date | None:
    """A YYYY-MM-DD date from a query string, or None when absent, malformed or far off."""
    return parse_day(raw)


def parse_int(raw: str | None) -> int | None:
    """A database id from a query string (ASCII digits, in range), or None."""
    return parse_id(raw)
