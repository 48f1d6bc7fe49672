"""A Litestar session store in the database: sessions survive a restart and are shared by
every server process, and an idle session expires (its expiry is pushed on as it is used).

Litestar asks the store to renew the session on every request and to save it on every
response. Writing the same row twice per request would cost every live change a few
milliseconds, so an unchanged session is rewritten only when its expiry has fallen more than
RENEW_SLACK behind: the idle limit then holds to within that slack."""

from __future__ import annotations

import datetime as dt

from litestar.stores.base import Store
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coordinator.models import WebSession, utcnow

RENEW_SLACK = dt.timedelta(seconds=60)


def _stale(current: dt.datetime | None, wanted: dt.datetime | None) -> bool:
    """Whether the stored expiry lags the wanted one by more than the slack."""
    if current is None or wanted is None:
        return current != wanted
    return wanted - current > RENEW_SLACK


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
            expires_at = _expiry(expires_in)
            if row is None:
                db.add(WebSession(key=key, data=data, expires_at=expires_at))
            elif row.data != data or _stale(row.expires_at, expires_at):
                row.data, row.expires_at = data, expires_at
            else:
                return
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
            if renew_for is not None and _stale(row.expires_at, _expiry(renew_for)):
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
