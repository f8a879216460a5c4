"""The operators' and supervisors' web console: login, residents, bookings, inquiries, FAQ.

Register with `agent_console.init_app(app)`. Everything lives under /console. The extension also
switches on CSRF protection for the whole app (the JSON API and the Twilio-signed voice webhooks
are exempt: neither authenticates with a session cookie).
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask, redirect, url_for

from agent_console.blueprint import bp
from agent_console.security import (
    ABSOLUTE_SESSION_SECONDS,
    ConsoleCSRFProtect,
    login_manager,
)

csrf = ConsoleCSRFProtect()


def init_app(app: Flask) -> None:
    """Attach login, CSRF protection, cookie policy and the console's blueprint to the app."""
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
        sessions,
        sms,
        supervisor,
        voice,
        work,
    )
    from madoguchi import api

    settings = app.config["SETTINGS"]
    # Flask's own defaults (no SameSite, not Secure, 31 days) are replaced, not merely defaulted.
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secrets.public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=ABSOLUTE_SESSION_SECONDS),
    )
    csrf.init_app(app)
    csrf.exempt(api.bp)
    login_manager.init_app(app)
    app.register_blueprint(bp)
    if not any(
        rule.rule == "/" for rule in app.url_map.iter_rules()
    ):
        app.add_url_rule("/", "console_root", lambda: redirect(url_for("console.home")))
