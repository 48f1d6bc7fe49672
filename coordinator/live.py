"""Live conference pages: changes published through Litestar channels, fragments rendered once
per agency audience and pushed to every open page as htmx out-of-band swaps.

A change is committed first, then announced on the conference's channel as a few bytes naming
the aspects that moved (never HTML: PostgreSQL NOTIFY carries at most 8000 bytes, and the
payload must not depend on who reads it). Every server process with pages open on that
conference holds one ``Room``: it reads the current state once, asks the consent gate once per
person for the information items, renders the changed fragments once per agency present, and
queues the result to each page of that agency. Renders per change therefore grow with the
agencies present, not the participants.

Fragments always show the current state, never a delta, so a page that connects (or
reconnects) is simply sent everything, and a late or repeated update is harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from jinja2 import Environment
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.asyncpg import AsyncPgChannelsBackend
from litestar.channels.backends.memory import MemoryChannelsBackend
from litestar.channels.backends.redis import RedisChannelsPubSubBackend
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coordinator import conferences
from coordinator.audit import Actor
from coordinator.conferences import ASPECTS, EVERYTHING, Changed, ConferenceState
from coordinator.plugins import AgencyRegistry
from coordinator.settings import Settings
from coordinator.sharing import ItemView

log = logging.getLogger("coordinator.live")

# One partial per aspect, in the order a full page is sent.
PARTIALS = {
    "status": "_conference_status.html",
    "agenda": "_conference_agenda.html",
    "presence": "_conference_presence.html",
    "case": "_conference_case.html",
    "roles": "_conference_roles.html",
    "actions": "_conference_actions.html",
    "notes": "_conference_notes.html",
}


def channels_plugin(settings: Settings) -> ChannelsPlugin:
    """The channels backend named by ``settings.channels_url``: ``memory`` (one process),
    ``redis://…`` or ``postgresql://…`` (LISTEN/NOTIFY; a plain DSN, no ``+driver``)."""
    url = settings.channels_url
    if url == "memory":
        backend = MemoryChannelsBackend()
    elif url.startswith(("redis://", "rediss://")):
        backend = RedisChannelsPubSubBackend(redis=Redis.from_url(url))
    elif url.startswith(("postgresql://", "postgres://")):
        backend = AsyncPgChannelsBackend(dsn=url)
    else:
        raise ValueError(f"COORDINATOR_CHANNELS_URL must be 'memory', 'redis://…' or 'postgresql://…', not {url!r}")
    return ChannelsPlugin(backend=backend, arbitrary_channels_allowed=True)


def render_fragments(env: Environment, aspects: Iterable[str], state: ConferenceState, agency: str | None,
                     items: list[ItemView] | None, *, oob: bool = True) -> str:
    """The partials of ``aspects`` as ``agency`` sees them, concatenated (for the websocket, each
    marked for an out-of-band swap by its id)."""
    wanted = set(aspects)
    return "".join(env.get_template(PARTIALS[aspect]).render(conference=state, agency=agency, items=items, oob=oob)
                   for aspect in ASPECTS if aspect in wanted)


@dataclass(eq=False)
class Member:
    """One open page: who is looking, and what is waiting to be sent to it."""

    actor: Actor
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


class Room:
    """The pages open on one conference in this process, and the one subscription feeding them.

    Work is done in order by a single task: updates announced on the channel and full pages for
    newcomers. Whatever piled up meanwhile is merged into one update.
    """

    def __init__(self, hub: LiveHub, conference_id: int) -> None:
        self.hub = hub
        self.conference_id = conference_id
        self.members: set[Member] = set()
        self._inbox: asyncio.Queue[frozenset[str] | Member] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []

    async def open(self) -> None:
        subscriber = await self.hub.channels.subscribe(self.hub.channel(self.conference_id))
        self._subscriber = subscriber
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._work())]

    async def close(self) -> None:
        await self.hub.channels.unsubscribe(self._subscriber)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def send_everything(self, member: Member) -> None:
        self._inbox.put_nowait(member)

    async def _listen(self) -> None:
        async for payload in self._subscriber.iter_events():
            self._inbox.put_nowait(frozenset(json.loads(payload)["aspects"]))

    async def _work(self) -> None:
        while True:
            jobs = [await self._inbox.get()]
            while not self._inbox.empty():
                jobs.append(self._inbox.get_nowait())
            aspects = frozenset().union(*(job for job in jobs if isinstance(job, frozenset)))
            newcomers = [job for job in jobs if isinstance(job, Member)]
            try:
                if aspects:
                    await self._deliver(aspects, self._audiences(self.members))
                if newcomers:  # a whole room reconnecting costs one render per agency, not per page
                    await self._deliver(EVERYTHING, self._audiences(newcomers))
            except Exception:  # one failed update must not silence the room: the next one resends
                log.exception("live update of conference %s failed", self.conference_id)

    @staticmethod
    def _audiences(members: Iterable[Member]) -> dict[str | None, list[Member]]:
        by_agency: dict[str | None, list[Member]] = {}
        for member in members:
            by_agency.setdefault(member.actor.agency, []).append(member)
        return by_agency

    async def _deliver(self, aspects: frozenset[str], audiences: dict[str | None, list[Member]]) -> None:
        if not audiences:
            return
        hub = self.hub
        items: dict[str | None, list[ItemView] | None] = {}
        async with hub.sessionmaker() as session:
            state = await conferences.load_state(session, hub.registry, self.conference_id, aspects)
            if "case" in aspects:
                for agency, members in audiences.items():
                    items[agency] = await self._items_seen_by(session, state, members)
            await session.commit()  # the disclosures the gate recorded
        for agency, members in audiences.items():
            html = render_fragments(hub.env, aspects, state, agency, items.get(agency))
            hub.renders += 1
            for member in members:
                member.outbox.put_nowait(html)

    async def _items_seen_by(self, session: AsyncSession, state: ConferenceState, members: list[Member]
                             ) -> list[ItemView]:
        """The items one agency may see. The gate is asked for each person, so the audit names
        everyone who saw them; every answer is the same for one agency, so the first is used."""
        people = {member.actor.id: member.actor for member in members}
        views = [await conferences.current_items(session, self.hub.registry, actor, state) for actor in people.values()]
        return views[0]


class LiveHub:
    """This process's rooms, one per conference with pages open, and the way changes are
    announced to every process."""

    def __init__(self, channels: ChannelsPlugin, sessionmaker: async_sessionmaker[AsyncSession],
                 registry: AgencyRegistry, env: Environment, prefix: str) -> None:
        self.channels = channels
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.env = env
        self.prefix = prefix
        self.rooms: dict[int, Room] = {}
        self.renders = 0  # fragments rendered for an audience, since start (for measurements)
        self._lock = asyncio.Lock()

    def stats(self) -> dict:
        """What this process is serving: renders so far, and per conference the open pages and
        the agencies among them (renders per change = agencies present)."""
        return {"renders": self.renders, "conferences": {
            conference_id: {"pages": len(room.members), "agencies": len({m.actor.agency for m in room.members})}
            for conference_id, room in self.rooms.items()}}

    def channel(self, conference_id: int) -> str:
        return f"{self.prefix}_conference_{conference_id}"

    def announce(self, change: Changed) -> None:
        """Tell every process that the aspects of ``change`` moved. Call after the commit."""
        self.channels.publish(json.dumps({"aspects": sorted(change.aspects)}), self.channel(change.conference_id))

    async def enter(self, conference_id: int, actor: Actor) -> tuple[Room, Member]:
        """Register a page in its room, subscribing first if it is the room's first page, so no
        update is missed between now and the full page it is sent next."""
        async with self._lock:
            room = self.rooms.get(conference_id)
            if room is None:
                room = Room(self, conference_id)
                await room.open()
                self.rooms[conference_id] = room
            member = Member(actor)
            room.members.add(member)
        return room, member

    async def leave(self, room: Room, member: Member) -> None:
        async with self._lock:
            room.members.discard(member)
            if not room.members and self.rooms.get(room.conference_id) is room:
                del self.rooms[room.conference_id]
                await room.close()
