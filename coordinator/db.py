"""Engine and sessions; SQLite gets WAL and foreign keys, and every database must be migrated."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class NotMigrated(RuntimeError):
    pass


def create_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One connection per process: SQLite serialises writers anyway, and a single connection
        # means a transaction never trips over another's stale snapshot (SQLITE_BUSY).
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
    else:
        engine = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # noqa: ANN001
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


def migrate(url: str) -> None:
    """Bring the database to the newest revision (synchronous: run before the event loop)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


async def ensure_migrated(engine: AsyncEngine) -> None:
    """Refuse to serve a database that is behind the code's migrations."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()

    def _current(sync_conn):  # noqa: ANN001
        if not inspect(sync_conn).has_table("alembic_version"):
            return None
        return MigrationContext.configure(sync_conn).get_current_revision()

    async with engine.connect() as conn:
        current = await conn.run_sync(_current)
    if current != head:
        raise NotMigrated(
            f"the database is at revision {current or 'none'} but the code needs {head}: "
            "run `coordinator migrate` (make run does it for you)"
        )
