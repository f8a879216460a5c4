"""GET /healthz: is the database reachable, is Redis reachable."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from madoguchi.db import get_session
from madoguchi.redis_conn import get_redis

bp = Blueprint("health", __name__)


def check_database() -> str:
    """'ok', or the reason the database cannot be reached."""
    try:
        get_session().execute(text("SELECT 1"))
        return "ok"
    except SQLAlchemyError as exc:
        get_session().rollback()
        return f"unreachable: {type(exc.orig if hasattr(exc, 'orig') else exc).__name__}"


def check_redis() -> str:
    """'ok', or the reason Redis cannot be reached."""
    try:
        get_redis().ping()
        return "ok"
    except (RedisError, RuntimeError, OSError) as exc:
        return f"unreachable: {type(exc).__name__}"


@bp.get("/healthz")
def healthz():
    """200 when the database and Redis both answer, else 503 naming what failed."""
    status = {"database": check_database(), "redis": check_redis()}
    healthy = all(value == "ok" for value in status.values())
    return jsonify(status=("ok" if healthy else "degraded"), **status), (200 if healthy else 503)


def init_app(app: Flask) -> None:
    """Register the health check."""
    app.register_blueprint(bp)
