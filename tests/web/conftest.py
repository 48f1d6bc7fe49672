"""Fixtures of the web tests: the conference scenario, a school's threat-assessment team, and the app's channels running (the test
app runs without its lifespan, and changes are announced on its channels)."""

import pytest

from tests.conference_scenario import build_conference


@pytest.fixture
async def live_channels(app):
    async with app.state.live.channels:
        yield


@pytest.fixture
async def scenario(sessionmaker, registry, live_channels):
    return await build_conference(sessionmaker, registry)


@pytest.fixture
async def team(people, make_user):
    """A school's threat-assessment team besides ``people``: a member of its staff and its counsellor."""
    return people | {"education": await make_user("tat", "education"),
                     "counsellor": await make_user("counsellor", "education")}
