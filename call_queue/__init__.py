"""The line: operators, one fair order for holders and callbacks, estimates, callback jobs."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the /voice/queue and /voice/callback webhooks."""
    from call_queue.views import bp

    app.register_blueprint(bp)
