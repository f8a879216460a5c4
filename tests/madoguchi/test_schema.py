"""The migrated database is exactly what the models describe, on either backend."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from madoguchi import migrate
from madoguchi.models import Base


def test_the_migrations_build_the_schema_the_models_describe(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "models and migrations disagree; add a migration:\n" + "\n".join(
        str(difference) for difference in differences)


def test_the_migrations_form_one_line_of_history():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, "two migrations share a parent; chain the newer one"
