"""Someone who only listens in a meeting in progress stays signed in: their open live page is
their use of the session. A page may ask how long its session has left without that counting as
use, and "Stay signed in" gives the session its whole idle time again."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from coordinator.accounts import actor_of, user_by_username
from coordinator.conference import meeting
from coordinator.conference.meeting import VersionIn
from coordinator.models import WebSession, utcnow
from coordinator.policy import Audience
from coordinator.settings import Settings
from coordinator.web.live.hub import Member, Room
from tests.conference_scenario import build_conference

IDLE = 600


@pytest.fixture
def settings(database_url) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret-key-0123456789", session_idle_seconds=IDLE)


async def _expiry(app, key: str) -> dt.datetime:
    async with app.state.sessionmaker() as db:
        return (await db.execute(select(WebSession.expires_at).where(WebSession.key == key))).scalar_one()


async def _age(app, key: str, seconds_left: int) -> None:
    """As if the session had not been used for a while."""
    async with app.state.sessionmaker() as db:
        await db.execute(update(WebSession).where(WebSession.key == key)
                         .values(expires_at=utcnow() + dt.timedelta(seconds=seconds_left)))
        await db.commit()


async def _seconds_left(client) -> int:
    answer = await client.get("/api/session/expiry")
    assert answer.status_code == 200, answer.text
    return answer.json()["seconds_left"]


async def test_an_open_page_of_a_meeting_in_progress_keeps_its_session(app, registry, client_for):
    scenario = await build_conference(app.state.sessionmaker, registry, start=False)
    listener = await client_for("sw")
    key = listener.cookies["session"]
    hub = app.state.live
    room = Room(hub, scenario.conference_id)
    async with app.state.sessionmaker() as db:
        actor = actor_of(await user_by_username(db, "sw"))
    room.members.add(Member(actor, Audience("social_work", "member"), key))
    hub.rooms[scenario.conference_id] = room

    await _age(app, key, 100)
    await room._deliver(frozenset({"status"}), list(room.members))  # the room reads the meeting: not started
    assert not room.in_progress
    async with app.state.sessionmaker() as db:
        await hub.beat(db)
        await db.commit()
    assert (await _expiry(app, key)) < utcnow() + dt.timedelta(seconds=200)  # a scheduled meeting is not use

    async with app.state.sessionmaker() as db:
        await meeting.start_conference(db, registry, actor_of(await user_by_username(db, "chair")),
                                       scenario.conference_id, VersionIn(version=1))
        await db.commit()
    member = next(iter(room.members))
    await room._deliver(frozenset({"status"}), [member])  # the room learns the meeting is live
    assert room.in_progress
    async with app.state.sessionmaker() as db:
        await hub.beat(db)
        await db.commit()
    assert (await _expiry(app, key)) > utcnow() + dt.timedelta(seconds=IDLE - 60)
    del hub.rooms[scenario.conference_id]


async def test_asking_how_long_is_left_is_not_use_and_staying_signed_in_is(app, people, client_for):
    person = await client_for("sw")
    key = person.cookies["session"]
    await _age(app, key, 100)
    assert 90 <= await _seconds_left(person) <= 100
    asked = await person.get("/api/session/expiry")
    assert 90 <= asked.json()["seconds_left"] <= 100  # asking twice changed nothing
    # The browser's copy of the cookie lasts as long as the session does (a listener's session,
    # kept by the server, must not be dropped by the browser at its first expiry).
    cookie = asked.headers["set-cookie"]
    assert cookie.startswith(f"session={key};") and "HttpOnly" in cookie
    assert 90 <= int(cookie.split("Max-Age=")[1].split(";")[0]) <= 100
    renewed = await person.post("/api/session/renew")
    assert renewed.status_code == 200 and renewed.json()["seconds_left"] == IDLE
    assert await _seconds_left(person) > IDLE - 10
    stranger = await client_for()
    assert await _seconds_left(stranger) == 0  # no session: nothing to tell, and no error
    await stranger.post("/api/session/renew")
    assert await _seconds_left(stranger) == 0  # and asking to stay makes no session
