"""A Litestar session store in the database: sessions survive a restart and are shared by
every server process, and an idle session expires (its expiry is pushed on at each access)."""

from __future__ import annotations

import datetime as dt

from litestar.stores.base import Store
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coordinator.models import WebSession, utcnow


def _expiry(expires_in: int | dt.timedelta | None) -> dt.datetime | None:
    if expires_in is None:
        return None
    seconds = expires_in.total_seconds() if isinstance(expires_in, dt.timedelta) else expires_in
    return utcnow() + dt.timedelta(seconds=seconds)


class DatabaseSessionStore(Store):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def set(self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        async with self._sessionmaker() as db:
            row = await db.get(WebSession, key)
            if row is None:
                db.add(WebSession(key=key, data=data, expires_at=_expiry(expires_in)))
            else:
                row.data, row.expires_at = data, _expiry(expires_in)
            await db.commit()

    async def get(self, key: str, renew_for: int | dt.timedelta | None = None) -> bytes | None:
        async with self._sessionmaker() as db:
            row = await db.get(WebSession, key)
            if row is None:
                return None
            if row.expires_at is not None and row.expires_at <= utcnow():
                await db.delete(row)
                await db.commit()
                return None
            if renew_for is not None and row.expires_at is not None:
                row.expires_at = _expiry(renew_for)
                await db.commit()
            return row.data

    async def delete(self, key: str) -> None:
        async with self._sessionmaker() as db:
            await db.execute(delete(WebSession).where(WebSession.key == key))
            await db.commit()

    async def delete_all(self) -> None:
        async with self._sessionmaker() as db:
            await db.execute(delete(WebSession))
            await db.commit()

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        async with self._sessionmaker() as db:
            expires_at = (await db.execute(select(WebSession.expires_at).where(WebSession.key == key))).scalar()
        if expires_at is None:
            return None
        return max(0, int((expires_at - utcnow()).total_seconds()))
