"""Engine and sessions; SQLite gets WAL and foreign keys, and every database must be migrated."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class NotMigrated(RuntimeError):
    pass


class _InlineCursor:
    """An aiosqlite cursor's interface over a plain ``sqlite3`` cursor, each call made at once."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> _InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    description = property(lambda self: self._cursor.description)
    rowcount = property(lambda self: self._cursor.rowcount)
    lastrowid = property(lambda self: self._cursor.lastrowid)
    arraysize = property(lambda self: self._cursor.arraysize)

    async def execute(self, sql: str, parameters: Any = ()) -> _InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Any) -> _InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineSQLite:
    """An aiosqlite connection's interface over a plain ``sqlite3`` connection, each call made
    at once on the event loop's thread. aiosqlite runs every call in a thread of its own, and the
    hops there and back cost more than the statement: ``SELECT 1`` through the engine took 0.5 ms
    that way and takes 0.07 ms inline. A server has one connection to its SQLite file, so its
    statements wait for each other anyway; what inline costs is the loop itself waiting while
    SQLite works: reads of a few rows, the commit's write to the log, and, when another process
    (the command line) holds the write lock, up to the busy timeout. Several processes share a
    PostgreSQL database instead, whose driver is asynchronous."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        # None once closed, as aiosqlite's: SQLAlchemy's adapter then skips commit and rollback.
        self._connection: sqlite3.Connection | None = connection

    @classmethod
    async def connect(cls, *args: Any, **kwargs: Any) -> InlineSQLite:
        return cls(sqlite3.connect(*args, **kwargs))

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level

    def cursor(self) -> _InlineCursor:
        return _InlineCursor(self._connection.cursor())

    async def commit(self) -> None:
        self._connection.commit()

    async def rollback(self) -> None:
        self._connection.rollback()

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._connection.create_function(*args, **kwargs)


def create_engine(url: str) -> AsyncEngine:
    # A database error's message leaves out the statement's parameters: they are case text, and
    # the message reaches the log.
    if url.startswith("sqlite"):
        # One connection per process: SQLite serialises writers anyway, and a single connection
        # means a transaction never trips over another's stale snapshot (SQLITE_BUSY).
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60, hide_parameters=True,
                                     connect_args={"async_creator_fn": InlineSQLite.connect})
    else:
        engine = create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True)
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
