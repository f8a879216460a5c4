"""GET /healthz: 200 when the database and Redis answer, 503 naming whichever does not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from madoguchi import create_app
from madoguchi.settings import Settings


def _app_with(settings: Settings, **secrets: str | None) -> Flask:
    changed = settings.model_copy(update={"secrets": settings.secrets.model_copy(update=secrets)})
    return create_app(changed, overrides={"TESTING": True})


@pytest.fixture
def disposable_apps() -> Iterator[list[Flask]]:
    """Apps made inside a test, their engines disposed after it."""
    apps: list[Flask] = []
    yield apps
    for app in apps:
        app.extensions["madoguchi_db"].engine.dispose()


def test_healthz_is_200_when_database_and_redis_answer(client, redis_client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_is_503_naming_redis_when_redis_is_down(settings, engine, disposable_apps):
    app = _app_with(settings, redis_url="redis://127.0.0.1:1/0")
    disposable_apps.append(app)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok"
    assert body["redis"].startswith("unreachable: ")


def test_healthz_is_503_when_no_redis_is_configured(settings, engine, disposable_apps):
    app = _app_with(settings, redis_url=None)
    disposable_apps.append(app)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["redis"] == "unreachable: RuntimeError"


def test_healthz_is_503_naming_the_database_when_it_cannot_be_opened(
    settings, redis_client, disposable_apps
):
    app = _app_with(settings, database_url="sqlite:////nonexistent-madoguchi-dir/madoguchi.db")
    disposable_apps.append(app)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "unreachable: OperationalError"
    assert body["redis"] == "ok"
