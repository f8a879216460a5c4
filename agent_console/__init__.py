"""The operators' and supervisors' web console: login, residents, bookings, inquiries, FAQ.

Register with `agent_console.init_app(app)`. Everything lives under /console. CSRF protection
and the session cookie's flags are the app's (madoguchi.web_security); the console adds its
login, its session lifetime and its pages.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, redirect, url_for

from agent_console.blueprint import bp
from agent_console.security import ABSOLUTE_SESSION_SECONDS, login_manager


def init_app(app: Flask) -> None:
    """Attach login, the session lifetime and the console's blueprint to the app."""
    # The view modules add their routes to the blueprint when imported.
    from agent_console.views import (  # noqa: F401
        admin,
        auth,
        faq,
        hooks,
        inquiries,
        my_settings,
        reports,
        residents,
        sms,
        supervisor,
        voice,
        work,
    )
    # Flask's default of 31 days is replaced, not merely defaulted: a working day, then log in.
    app.config.update(PERMANENT_SESSION_LIFETIME=timedelta(seconds=ABSOLUTE_SESSION_SECONDS))
    login_manager.init_app(app)
    app.register_blueprint(bp)
    if not any(
        rule.rule == "/" for rule in app.url_map.iter_rules()
    ):
        app.add_url_rule("/", "console_root", lambda: redirect(url_for("console.home")))
