"""The ceiling: a minimal Flask app answering every webhook with one fixed <Say>.

Served by the same gunicorn settings as Madoguchi, it shows what the web stack itself carries
on this machine; Madoguchi's throughput is reported as a ratio to it.
"""

from __future__ import annotations

from flask import Flask, Response

FIXED_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="ja-JP">'
    "お電話ありがとうございます。みどり市の、自動音声による、ご案内です。</Say></Response>"
)


def create_app() -> Flask:
    """A Flask app whose every POST gets the same TwiML."""
    app = Flask(__name__)

    @app.post("/", defaults={"path": ""})
    @app.post("/<path:path>")
    def answer(path: str) -> Response:
        """The fixed <Say>, whatever was asked."""
        return Response(FIXED_TWIML, mimetype="text/xml")

    return app
