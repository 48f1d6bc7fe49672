"""Presence is counted from live connection rows that heartbeats keep fresh: a connection whose
server died stops counting after the presence timeout, the heartbeats of open pages sweep it
away and tell the rooms, and a restarted process clears the rows its predecessor left."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from coordinator.accounts import actor_of
from coordinator.conference import participation
from coordinator.conference.state import load_participants
from coordinator.events import ConferenceChanged
from coordinator.models import LiveConnection, User, utcnow
from coordinator.settings import Settings
from tests.web.support import published_events

TIMEOUT = 5  # not the default, so the tests see that the server's setting is the one used


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret-key-0123456789",
                    presence_timeout_seconds=TIMEOUT)


@pytest.fixture
def sessionmaker(app):
    """The app's own sessions, which carry its presence timeout."""
    return app.state.sessionmaker


async def _enter(sessionmaker, user_id: int, conference_id: int, process: str = "elsewhere:1:1") -> LiveConnection:
    async with sessionmaker() as session:
        actor = actor_of(await session.get(User, user_id))
        connection = await participation.enter_room(session, actor, conference_id, process)
        await session.commit()
    return connection


async def _silent_for(sessionmaker, connection: LiveConnection, seconds: float) -> None:
    async with sessionmaker() as session:
        await session.execute(update(LiveConnection).where(LiveConnection.id == connection.id)
                              .values(heartbeat_at=utcnow() - dt.timedelta(seconds=seconds)))
        await session.commit()


async def _people(sessionmaker, conference_id: int) -> dict[str, tuple[bool, bool]]:
    """(present, came at least once) by name."""
    async with sessionmaker() as session:
        return {p.name: (p.present, p.joined) for p in await load_participants(session, conference_id)}


async def _rows(sessionmaker) -> list[tuple[int, str]]:
    async with sessionmaker() as session:
        return sorted(tuple(row) for row in await session.execute(select(LiveConnection.user_id, LiveConnection.process)))


async def _beat(sessionmaker, connection: LiveConnection) -> None:
    async with sessionmaker() as session:
        await participation.heartbeat(session, connection.process, [connection])
        await session.commit()


async def test_a_connection_silent_for_longer_than_the_timeout_is_not_present(sessionmaker, scenario):
    conference = scenario.conference_id
    connection = await _enter(sessionmaker, scenario.users["pc"], conference)
    await _silent_for(sessionmaker, connection, TIMEOUT - 2)
    assert (await _people(sessionmaker, conference))["Pc"] == (True, True)
    await _silent_for(sessionmaker, connection, TIMEOUT + 2)
    assert (await _people(sessionmaker, conference))["Pc"] == (False, True)  # gone, but came


async def test_a_heartbeat_keeps_its_page_present_and_sweeps_and_announces_the_stale_ones(sessionmaker, scenario):
    conference = scenario.conference_id
    beating = await _enter(sessionmaker, scenario.users["pc"], conference)
    crashed = await _enter(sessionmaker, scenario.users["sw"], conference, process="crashed:2:2")  # its server died
    await _silent_for(sessionmaker, beating, TIMEOUT + 2)
    await _silent_for(sessionmaker, crashed, TIMEOUT + 2)
    announced = published_events(sessionmaker)

    await _beat(sessionmaker, beating)
    assert await _rows(sessionmaker) == [(scenario.users["pc"], "elsewhere:1:1")]
    assert announced == [ConferenceChanged(conference, frozenset({"participants"}))]
    people = await _people(sessionmaker, conference)
    assert people["Pc"] == (True, True) and people["Sw"] == (False, True)

    await _beat(sessionmaker, beating)  # nothing stale: nothing to announce
    assert len(announced) == 1


async def test_a_page_swept_as_stale_comes_back_with_its_next_heartbeat(sessionmaker, scenario):
    """A process that stalled past the timeout had its rows removed by others; its pages are
    still open, so their people must not stay absent."""
    conference = scenario.conference_id
    stalled = await _enter(sessionmaker, scenario.users["pc"], conference)
    async with sessionmaker() as session:
        await session.execute(LiveConnection.__table__.delete())
        await session.commit()
    assert (await _people(sessionmaker, conference))["Pc"] == (False, True)
    await _beat(sessionmaker, stalled)
    assert (await _people(sessionmaker, conference))["Pc"] == (True, True)


async def test_leaving_removes_the_connection(sessionmaker, scenario):
    conference = scenario.conference_id
    first = await _enter(sessionmaker, scenario.users["pc"], conference)
    await _enter(sessionmaker, scenario.users["pc"], conference)  # a second tab
    async with sessionmaker() as session:
        await participation.leave_room(session, actor_of(await session.get(User, scenario.users["pc"])), first)
        await session.commit()
    assert len(await _rows(sessionmaker)) == 1  # the row of the tab that was closed is gone
    assert (await _people(sessionmaker, conference))["Pc"] == (True, True)  # still there in the other tab


async def test_start_up_clears_the_rows_an_earlier_process_left_under_this_host_and_pid(app, sessionmaker, scenario):
    conference, pc = scenario.conference_id, scenario.users["pc"]
    host_and_pid = app.state.process.rsplit(":", 1)[0]
    await _enter(sessionmaker, pc, conference, process=f"{host_and_pid}:1")  # this slot, before a crash
    await _enter(sessionmaker, pc, conference, process=f"{host_and_pid}0:1")  # another pid that starts alike
    await _enter(sessionmaker, pc, conference, process="another-host:1:1")
    for start in app.on_startup:
        await start(app)
    assert await _rows(sessionmaker) == sorted([(pc, "another-host:1:1"), (pc, f"{host_and_pid}0:1")])
