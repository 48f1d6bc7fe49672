"""The test databases: resetting PostgreSQL between tests and benchmark runs, and a database at an
earlier revision for the upgrade tests."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import text

from coordinator import db

PG_URL = os.environ.get("COORDINATOR_TEST_DATABASE_URL")


async def empty_schema(url: str) -> None:
    """Drop everything, so the migrations are checked from nothing."""
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


# Deleting rows is twenty times quicker than TRUNCATE on tables this small (TRUNCATE makes new
# files for every table). Replication role "replica" leaves the foreign keys unchecked meanwhile,
# so the order of the tables does not matter.
EMPTY_EVERY_TABLE = """
DO $$
DECLARE r record;
BEGIN
  SET LOCAL session_replication_role = replica;
  FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version' LOOP
    EXECUTE format('DELETE FROM %I', r.tablename);
  END LOOP;
  FOR r IN SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() LOOP
    EXECUTE format('ALTER SEQUENCE %I RESTART', r.sequencename);
  END LOOP;
END $$
"""


async def empty_tables(url: str) -> None:
    """Delete every row but the migration marker and restart the ids: a migrated, empty database."""
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(EMPTY_EVERY_TABLE))
    await engine.dispose()


# The coordinator who made the cases an upgrade test stores (``:at`` is when).
CHAIR_USER = ("INSERT INTO users (id, username, display_name, agency, role, password_hash, active, created_at) "
              "VALUES (1, 'chair', 'Chair', 'social_work', 'coordinator', 'x', true, :at)")


async def execute(url: str, *statements: str, **params: object) -> list:
    """Run SQL statements in one transaction; the rows of those that return any."""
    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            results = [await conn.execute(text(sql), params) for sql in statements]
            return [row for result in results if result.returns_rows for row in result.all()]
    finally:
        await engine.dispose()


@contextmanager
def database_at(revision: str, tmp_path: Path) -> Iterator[str]:
    """A database migrated only as far as ``revision``, for data as an older release stored it: a
    file of its own, or the PostgreSQL test database rebuilt. Afterwards it is migrated to the newest
    revision whatever happened, so later PostgreSQL tests find the schema they expect."""
    url = PG_URL or f"sqlite+aiosqlite:///{tmp_path / 'upgrade.db'}"
    if PG_URL:
        asyncio.run(empty_schema(url))
    try:
        command.upgrade(db.alembic_config(url), revision)
        yield url
    finally:
        db.migrate(url)
