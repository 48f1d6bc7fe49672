"""A live page's outbox, in process: a page that falls behind is closed with 1013 instead of
being buffered without end, and a part that failed is sent with the next change to it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from sqlalchemy import select

from coordinator import accounts
from coordinator.conference import participation
from coordinator.models import User
from coordinator.web.live import hub as hub_module
from coordinator.web.live import socket as socket_module
from tests.conference_scenario import build_conference

WAIT = 10.0  # seconds: a safety net only


async def seat_of(sessionmaker, username: str, conference_id: int):  # noqa: ANN001, ANN201
    async with sessionmaker() as db:
        actor = accounts.actor_of((await db.execute(select(User).where(User.username == username))).scalar_one())
        return actor, (await participation.seat(db, actor, conference_id)).audience


class StuckPage:
    """A websocket whose reader stopped reading: the first send never returns."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app
        self.closed: int | None = None

    async def accept(self) -> None:
        pass

    async def send_text(self, _message: str) -> None:
        await asyncio.Event().wait()

    async def receive(self) -> dict:
        await asyncio.Event().wait()

    async def close(self, code: int, reason: str = "") -> None:
        self.closed = code


async def test_a_page_that_falls_behind_is_closed_with_1013(app, sessionmaker, registry, monkeypatch):
    scenario = await build_conference(sessionmaker, registry)
    live = app.state.live
    live.outbox_limit = 2
    actor, audience = await seat_of(sessionmaker, "pc", scenario.conference_id)

    async def admitted(_socket, _conference_id):  # noqa: ANN001, ANN202
        return actor, audience, "session-key"

    async def no_presence(*_args):  # noqa: ANN002, ANN202
        return SimpleNamespace(id=0)

    monkeypatch.setattr(socket_module, "_admit", admitted)
    monkeypatch.setattr(socket_module, "_presence", no_presence)
    page = StuckPage(app)
    async with live.channels:
        handler = asyncio.create_task(socket_module.conference_live.fn(page, scenario.conference_id))
        async with asyncio.timeout(WAIT):
            while not live.rooms.get(scenario.conference_id):
                await asyncio.sleep(0.01)
        room = live.rooms[scenario.conference_id]
        [member] = room.members
        # The sender is stuck on the first page; two more fit in the outbox, the next does not.
        # One at a time: pages queued together are merged into one render.
        async with asyncio.timeout(WAIT):
            while not member.behind.is_set():
                renders = live.renders
                room.send_everything(member)
                while live.renders == renders:
                    await asyncio.sleep(0.01)
        await asyncio.wait_for(handler, WAIT)
    assert page.closed == socket_module.CLOSE_BEHIND
    assert member.outbox.qsize() <= live.outbox_limit
    assert scenario.conference_id not in live.rooms  # the page left its room


async def test_a_failed_part_is_tried_again_by_the_next_change_to_it_not_carried_into_others(
        app, sessionmaker, registry, monkeypatch):
    scenario = await build_conference(sessionmaker, registry)
    live = app.state.live
    actor, audience = await seat_of(sessionmaker, "pc", scenario.conference_id)
    render = hub_module.render_fragment
    failures = []

    def render_failing_once(env, view, aspect):  # noqa: ANN001, ANN202
        if not failures:
            failures.append(aspect)
            raise RuntimeError("a template failed")
        return render(env, view, aspect)

    async with live.channels:
        room, member = await live.enter(scenario.conference_id, actor, audience, "session-key")
        room.send_everything(member)
        await asyncio.wait_for(member.outbox.get(), WAIT)  # the whole page

        monkeypatch.setattr(hub_module, "render_fragment", render_failing_once)
        room._inbox.put_nowait(frozenset({"notes"}))
        async with asyncio.timeout(WAIT):
            while not failures:
                await asyncio.sleep(0.01)
        room._inbox.put_nowait(frozenset({"roles"}))
        unrelated = await asyncio.wait_for(member.outbox.get(), WAIT)
        room._inbox.put_nowait(frozenset({"notes"}))
        retried = await asyncio.wait_for(member.outbox.get(), WAIT)
        await live.leave(room, member)
    assert f'id="conference-roles-{scenario.conference_id}"' in unrelated
    assert f'id="conference-notes-{scenario.conference_id}"' not in unrelated  # not carried along
    assert f'id="conference-notes-{scenario.conference_id}"' in retried  # the next change to it


async def test_a_room_renders_after_giving_back_its_database_connection(app, sessionmaker, registry, monkeypatch):
    """SQLite has one connection per process: every request and every other room waits while it
    is held, so a room holds it to read the state, never while rendering the fragments."""
    scenario = await build_conference(sessionmaker, registry)
    live = app.state.live
    actor, audience = await seat_of(sessionmaker, "pc", scenario.conference_id)
    render = hub_module.render_fragment
    held_while_rendering = []

    def render_watching_the_pool(env, view, aspect):  # noqa: ANN001, ANN202
        held_while_rendering.append(app.state.engine.pool.checkedout())
        return render(env, view, aspect)

    monkeypatch.setattr(hub_module, "render_fragment", render_watching_the_pool)
    async with live.channels:
        room, member = await live.enter(scenario.conference_id, actor, audience, "session-key")
        room.send_everything(member)
        await asyncio.wait_for(member.outbox.get(), WAIT)
        await live.leave(room, member)
    assert held_while_rendering and set(held_while_rendering) == {0}
