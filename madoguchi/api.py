"""JSON API for the city's web booking front (placeholder until written)."""
from flask import Flask


def init_app(app: Flask) -> None:
    """Register the API."""
