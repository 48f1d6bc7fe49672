"""Resetting a PostgreSQL database between tests and benchmark runs."""

from __future__ import annotations

from sqlalchemy import text

from coordinator import db


async def empty_schema(url: str) -> None:
    """Drop everything, so the migrations are checked from nothing."""
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def empty_tables(url: str) -> None:
    """Delete every row but the migration marker: a migrated, empty database, quickly."""
    engine = db.create_engine(url)
    async with engine.begin() as conn:
        tables = (await conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
        ))).scalars().all()
        await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    await engine.dispose()
