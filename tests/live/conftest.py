"""Live tests: real server processes, real websocket clients."""

from __future__ import annotations

import pytest

from tests.conference_scenario import PASSWORD, build_conference
from tests.live.clients import Person
from tests.live.server import start_server


@pytest.fixture
async def scenario(sessionmaker, registry):
    return await build_conference(sessionmaker, registry)


@pytest.fixture
def servers(database_url):
    """servers(**settings) starts a real server on the test's database; all are stopped after."""
    started = []

    def start(**kwargs):
        server = start_server(database_url=database_url, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
async def people_on():
    """people_on(server, "pc", "sw") -> logged-in Persons; closed after the test."""
    opened: list[Person] = []

    async def login(server, *usernames: str) -> list[Person]:
        logged_in = [await Person(server, name).login(PASSWORD) for name in usernames]
        opened.extend(logged_in)
        return logged_in

    yield login
    for person in opened:
        await person.close()
