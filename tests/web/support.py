"""Helpers for the web security tests: what the database holds, and browsers at given addresses."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Workspace:
    """Every section of a case's workspace as one reader gets them: the summary page's answer, and
    the text of all its sections (each fetched at its own URL, as a reader clicking through would)."""

    status_code: int
    text: str


SECTION_LINK = re.compile(r'<nav class="section-nav".*?</nav>', re.S)


async def whole_case(client: Client, case_id: int) -> Workspace:
    first = await client.get(f"/cases/{case_id}")
    if first.status_code != 200:
        return Workspace(first.status_code, first.text)
    nav = SECTION_LINK.search(first.text)
    links = re.findall(rf'href="(/cases/{case_id}/[a-z-]+)"', nav.group(0)) if nav else []
    texts = [first.text]
    for link in links:
        page = await client.get(link)
        assert page.status_code == 200, (link, page.status_code)
        texts.append(page.text)
    return Workspace(200, "\n".join(texts))
