"""The migrations build exactly the schema the models declare: a column added to a model without
its revision (or the reverse) fails here, not on a deployed database."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from coordinator import db
from coordinator.models import Base


def test_the_migrated_schema_is_the_models_schema(tmp_path):
    path = tmp_path / "schema.db"
    db.migrate(f"sqlite+aiosqlite:///{path}")
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
