"""The console's one blueprint; the modules in views/ add their routes to it."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

HERE = Path(__file__).resolve().parent

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder=str(HERE / "templates"),
    static_folder=str(HERE / "static"),
    static_url_path="/static",
)
