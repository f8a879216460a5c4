"""The phone line: Twilio voice webhooks with a forgiving touch-tone and speech menu."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the /voice webhooks."""
    from ivr.views import bp

    app.register_blueprint(bp)
