"""Agencies for the plugin tests: probation implements every hook; a failing fake is added to
the app of its own module only, so its failures never reach the other tests."""

from __future__ import annotations

import logging

import pytest

from coordinator import gate
from coordinator.app import create_app
from coordinator.policy import Actor
from tests.conftest import Client, registry_with

FAKES = {
    "housing": "tests.fake_agencies.housing",
    "probation": "tests.fake_agencies.probation",
    "failing_reaction": "tests.fake_agencies.failing_reaction",
    "failing_restriction": "tests.fake_agencies.failing_restriction",
}


def registry_of(*fakes: str):
    return registry_with(*((key, FAKES[key]) for key in fakes))


@pytest.fixture(scope="session")
def registry():
    """The app of these tests: the built-ins, housing and probation."""
    return registry_of("housing", "probation")


@pytest.fixture
async def staff(make_user):
    """A coordinator and a member of police, health and probation."""
    return {
        "chair": await make_user("chair", "social_work", "coordinator"),
        "police": await make_user("pc", "police"),
        "health": await make_user("doc", "health"),
        "probation": await make_user("po", "probation"),
    }


def app_with(*fakes: str):
    """A module's ``app`` fixture: the built-ins, probation and these fakes. The app is made
    before the test runs, as the other apps are: Litestar sets up logging when an app is made,
    which would otherwise drop the handler caplog adds for the test."""

    @pytest.fixture
    async def app(settings):
        app = create_app(settings, registry_of("probation", *fakes))
        yield app
        await app.state.engine.dispose()

    return app


async def open_case(chair: Client, agencies: list[str], *, children: bool = True) -> dict:
    people = [{"role": "survivor", "name": "Nora"}] + ([{"role": "child", "name": "Ella"}] if children else [])
    response = await chair.post("/api/cases", json={"kind": "domestic_abuse", "checklist_score": 15,
                                                    "people": people, "agencies": agencies})
    assert response.status_code == 201, response.text
    return response.json()


async def task_titles(client: Client, case_id: int, agency: str) -> list[str]:
    response = await client.get(f"/api/cases/{case_id}/tasks")
    assert response.status_code == 200, response.text
    return [t["title"] for t in response.json() if t["agency"] == agency]


async def seen_through_gate(sessionmaker, app, user, case_id: int, item_id: int) -> gate.ItemView:
    """One item as ``user``'s agency sees it through the consent gate."""
    async with sessionmaker() as session:
        [view] = await gate.visible_items(session, app.state.registry, Actor(user.id, user.agency, user.role),
                                          case_id, channel="api", item_ids=[item_id])
    return view


def plugin_errors(caplog, plugin: str, hook: str) -> list:
    """The errors logged about ``plugin``'s ``hook``."""
    return [r for r in caplog.records if r.name == "coordinator.plugins" and r.levelno == logging.ERROR
            and f"'{plugin}'" in r.getMessage() and hook in r.getMessage()]
