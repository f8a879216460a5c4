"""Madoguchi: a city's phone line and call center on one booking and inquiry database."""

from __future__ import annotations

from typing import Any

from flask import Flask

from madoguchi.settings import Settings, load_settings


def create_app(settings: Settings | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the web app: settings, database, Redis, and every blueprint."""
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secrets.secret_key,
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    if overrides:
        app.config.update(overrides)

    import agent_console
    import call_queue
    import ivr
    from madoguchi import api, health, redis_conn, telephony, web_security
    from madoguchi.db import Database

    Database().init_app(app)
    redis_conn.init_app(app)
    web_security.init_app(app)
    health.init_app(app)
    api.init_app(app)
    telephony.init_app(app)
    ivr.init_app(app)
    call_queue.init_app(app)
    agent_console.init_app(app)
    return app
