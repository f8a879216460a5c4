"""The line: operators, one fair order for holders and callbacks, estimates, callback jobs.

The code calls this package "the line" throughout. It is named `call_queue`, not `queue`, as the
design card has it: a top-level `queue` package would shadow Python's standard `queue` module,
which redis-py imports, and `import redis` would fail.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the /voice/queue and /voice/callback webhooks."""
    from call_queue.views import bp

    app.register_blueprint(bp)
