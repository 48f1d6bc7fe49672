"""Helpers for the web security tests: what the database holds, and browsers at given addresses."""

from __future__ import annotations

from sqlalchemy import select

from coordinator import events
from coordinator.models import WebSession
from tests.conftest import Client


async def session_rows(sessionmaker) -> list[WebSession]:
    async with sessionmaker() as db:
        return list((await db.execute(select(WebSession))).scalars())


def at_address(app, host: str):
    """The app as reached from ``host``: every request's client address is that host."""
    async def asgi(scope, receive, send):
        return await app({**scope, "client": (host, 50000)}, receive, send)
    return asgi


def client_at(app, host: str) -> Client:
    return Client(at_address(app, host))


def published_events(sessionmaker) -> list[events.Event]:
    """Events announced by sessions of ``sessionmaker`` from now on (after their commit)."""
    seen: list[events.Event] = []
    events.attach(sessionmaker, seen.extend)
    return seen
