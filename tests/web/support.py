"""Helpers for the web security tests: what the database holds, and browsers at given addresses."""

from __future__ import annotations

from sqlalchemy import select

from coordinator import events
from coordinator.models import WebSession
from tests.conftest import Client


async def session_rows(sessionmaker) -> list[WebSession]:  # noqa: ANN001
    async with sessionmaker() as db:
        return list((await db.execute(select(WebSession))).scalars())


def at_address(app, host: str):  # noqa: ANN001, ANN201
    """The app as reached from ``host``: every request's client address is that host."""
    async def asgi(scope, receive, send):  # noqa: ANN001, ANN202
        return await app({**scope, "client": (host, 50000)}, receive, send)
    return asgi


def client_at(app, host: str) -> Client:  # noqa: ANN001
    return Client(at_address(app, host))


def published_events(sessionmaker) -> list[events.Event]:  # noqa: ANN001
    """Events announced by sessions of ``sessionmaker`` from now on (after their commit)."""
    seen: list[events.Event] = []
    events.attach(sessionmaker, seen.extend)
    return seen
