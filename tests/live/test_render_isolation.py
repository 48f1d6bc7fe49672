"""One part of a live page that cannot be rendered costs that part only: the room keeps sending
every other part to every page, the failure is logged once with its cause, and the part is tried
again when a change next touches it, never carried into every later update. The same for the
case page: one reader's failure does not stop the other readers' pages.

These drive the hub in this process (no server): the fault is a template of the presence list
as it was before people without an agency were grouped under "No agency" (sorting None beside
agency keys raised), with such a person invited."""

from __future__ import annotations

import asyncio
import logging

import pytest
from jinja2 import ChoiceLoader, DictLoader

from coordinator import accounts
from coordinator.accounts import actor_of
from coordinator.conference import meeting, participation
from coordinator.conference.meeting import NoteIn
from coordinator.conference.participation import InviteIn, RemoveIn
from coordinator.conference.state import load_participants
from coordinator.models import User
from coordinator.policy import Audience
from coordinator.web.live.hub import CasePage, CaseWatch, Member, Room
from tests.conference_scenario import build_conference
from tests.live.clients import WAIT, fragments

# The presence list grouped straight by agency: fails as soon as someone has no agency.
PRESENCE_AS_IT_WAS = """<section id="{{ dom_id('conference-presence', conference.id) }}" hx-swap-oob="true">
{% for group in conference.participants | groupby("agency") %}<h3>{{ group.grouper }}</h3>{% endfor %}
</section>"""


@pytest.fixture
async def scenario(app, registry):
    return await build_conference(app.state.sessionmaker, registry)


@pytest.fixture
def hub(app):
    return app.state.live


async def _as(hub, username: str):
    async with hub.sessionmaker() as session:
        user = await accounts.user_by_username(session, username)
        return actor_of(user)


async def _change(hub, change, *args) -> None:
    async with hub.sessionmaker() as session:
        await change(session, *args)
        await session.commit()


async def _received(member: Member) -> dict[str, str]:
    return fragments(await asyncio.wait_for(member.outbox.get(), WAIT))


@pytest.fixture
async def room(hub, scenario):
    """A room whose presence template fails while someone without an agency is invited."""
    faulty = hub.env.overlay(loader=ChoiceLoader([DictLoader({"conferences/_presence.html": PRESENCE_AS_IT_WAS}),
                                                  hub.env.loader]))
    hub.env, kept = faulty, hub.env
    room = Room(hub, scenario.conference_id)
    worker = asyncio.create_task(room._work())
    yield room
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    hub.env = kept


async def _member(room: Room, username: str, audience: Audience) -> Member:
    member = Member(await _as(room.hub, username), audience, None)
    room.members.add(member)
    room.send_everything(member)
    return member


async def test_one_participant_who_breaks_the_presence_list_leaves_every_other_part_live(
        hub, scenario, room, make_user, caplog):
    await make_user("admin", None, "admin")
    chair = await _as(hub, "chair")
    admin = await _as(hub, "admin")
    await _change(hub, participation.invite_participant, chair, scenario.conference_id, InviteIn(admin.id))
    caplog.set_level(logging.INFO, logger="coordinator.live")
    chair_page = await _member(room, "chair", Audience("social_work", "chair"))
    police_page = await _member(room, "pc", Audience("police", "member"))

    for page in (chair_page, police_page):  # the whole page but the list that cannot be rendered
        first = await _received(page)
        assert f"conference-presence-{scenario.conference_id}" not in first
        assert {f"conference-{aspect}-{scenario.conference_id}" for aspect in ("status", "agenda", "notes")} <= set(first)

    # A note and an arrival in one update: the note reaches every page all the same.
    await _change(hub, meeting.add_note, hub.registry, chair, scenario.conference_id,
                  NoteIn(room.current_case_id, "decision", "Police to keep the address confidential"))
    room._inbox.put_nowait(frozenset({"notes", "presence"}))
    for page in (chair_page, police_page):
        update = await _received(page)
        assert "Police to keep the address confidential" in update[f"conference-notes-{scenario.conference_id}"]
        assert f"conference-presence-{scenario.conference_id}" not in update

    # A later change that does not touch the presence list does not try it again.
    room._inbox.put_nowait(frozenset({"notes"}))
    assert set(await _received(chair_page)) == {f"conference-notes-{scenario.conference_id}"}
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    # Once per audience, with its cause, however many updates met it.
    assert len(failures) == 2, [r.getMessage() for r in failures]
    assert all("presence" in r.getMessage() and "TypeError" in r.getMessage() for r in failures)

    # The next change that touches the list tries it again: without the person, it renders.
    participant = next(p for p in (await _participants(hub, scenario.conference_id)) if p.user_id == admin.id)
    await _change(hub, participation.remove_participant, hub.registry, chair, scenario.conference_id,
                  RemoveIn(participant.participant_id))
    room._inbox.put_nowait(frozenset({"presence"}))
    assert "<h3>social_work</h3>" in (await _received(chair_page))[f"conference-presence-{scenario.conference_id}"]
    assert any("renders again" in r.getMessage() for r in caplog.records)


async def _participants(hub, conference_id: int):
    async with hub.sessionmaker() as session:
        return await load_participants(session, conference_id)


async def test_one_reader_whose_case_page_fails_does_not_stop_the_other_readers(hub, scenario, caplog):
    """The case page is rendered per reader: a reader's failure is logged once, and the others
    get every change."""
    police, health = await _as(hub, "pc"), await _as(hub, "doc")

    async def sections(session, actor, case_id, section, token, parts):  # police's render fails, health's works
        if actor.id == police.id:
            raise LookupError("a broken row for police")
        return f'<div id="case-live">case {case_id} for {actor.name}</div>'

    hub.case_page = sections
    watch = CaseWatch(hub, scenario.case_a)
    police_page = Member(police, Audience("police", "member"), None)
    health_page = Member(health, Audience("health", "member"), None)
    watch.members = {police_page: CasePage("", "tasks"), health_page: CasePage("", "tasks")}  # police first
    worker = asyncio.create_task(watch._work())
    try:
        for _ in range(2):
            watch.send_everything()
            assert "for Doc" in await asyncio.wait_for(health_page.outbox.get(), WAIT)
        assert police_page.outbox.empty()
        failures = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(failures) == 1 and "a broken row for police" in failures[0].getMessage()
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def test_an_open_case_page_follows_its_reader_s_agency_and_role(hub, scenario):
    """The reader is read again on every change: moved to another agency, the page shows what the
    new agency may see; deactivated, it ends."""
    seen: list[tuple[str | None, str]] = []

    async def sections(session, actor, case_id, section, token, parts):
        seen.append((actor.agency, actor.role))
        return "<div id=\"case-live\"></div>"

    hub.case_page = sections
    watch = CaseWatch(hub, scenario.case_a)
    page = Member(await _as(hub, "pc"), Audience("police", "member"), None)
    watch.members = {page: CasePage("", "tasks")}
    worker = asyncio.create_task(watch._work())
    try:
        watch.send_everything()
        await asyncio.wait_for(page.outbox.get(), WAIT)
        async with hub.sessionmaker() as session:
            user = await session.get(User, page.actor.id)
            user.agency, user.role = "health", "coordinator"
            await session.commit()
        watch.send_everything()
        await asyncio.wait_for(page.outbox.get(), WAIT)
        assert seen == [("police", "member"), ("health", "coordinator")]
        assert page.audience == Audience("health", "member")
        async with hub.sessionmaker() as session:
            await accounts.deactivate_user(session, "pc")
            await session.commit()
        watch.send_everything()
        await asyncio.wait_for(page.ended.wait(), WAIT)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)

