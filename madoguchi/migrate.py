"""Apply and create schema migrations (Alembic) from code, without an alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to the given revision (default: the newest)."""
    _migrate(engine, lambda config: command.upgrade(config, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database schema back to the given revision (an empty database only, past 0007)."""
    _migrate(engine, lambda config: command.downgrade(config, revision))


def _migrate(engine: Engine, run) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Rebuilding a table that others reference (SQLite's way to drop a constraint)
            # needs foreign keys off, and the pragma only works outside a transaction.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                run(config)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise RuntimeError(f"the migration broke a foreign key: {tuple(broken)}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def bring_up_to_date(engine: Engine, keyring, *, progress: bool = False) -> bool:
    """Migrate the schema, then seal and index an earlier version's plain data if any is left.

    Returns True when earlier data was sealed. Safe to stop and repeat.
    """
    from madoguchi.sealing import rotation

    upgrade(engine)
    return rotation.seal_earlier_data(engine, keyring, progress=progress)


def revision(url: str, message: str) -> None:
    """Autogenerate a new migration by comparing the models with the database."""
    command.revision(alembic_config(url), message=message, autogenerate=True)
