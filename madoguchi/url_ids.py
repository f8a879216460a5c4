"""The `int` URL converter, bounded to what a database id column holds.

Without the bound, /console/residents/99999999999999999999999 reaches the database and fails
there (integer out of range); with it, such an address matches no route and answers 404.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

from madoguchi.query_values import MAX_ID


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` accepting 0 … MAX_ID only (and at most ten digits)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
        self.regex = r"\d{1,10}"


def init_app(app: Flask) -> None:
    """Use the bounded converter for every `<int:...>` route of the app."""
    app.url_map.converters["int"] = BoundedIntegerConverter
