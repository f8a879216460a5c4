"""Madoguchi: a city's phone line and call center on one booking and inquiry database."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from madoguchi.settings import Settings, load_settings
from madoguchi.web_app import MadoguchiFlask


def create_app(settings: Settings | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the web app: settings, database, Redis, and every blueprint."""
    settings = settings or load_settings()
    app = MadoguchiFlask(__name__)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secrets.secret_key,
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
    )
    if overrides:
        app.config.update(overrides)
    if settings.web.trusted_proxies:
        # Only as many forwarding hops as the city configured: a client cannot pick its address.
        hops = settings.web.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    import agent_console
    import call_queue
    import ivr
    from madoguchi import api, health, redis_conn, telephony, url_ids, web_security
    from madoguchi.db import Database

    url_ids.init_app(app)  # before any route is added
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
