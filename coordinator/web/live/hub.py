"""Live conference pages: committed domain events become re-rendered fragments on every open
page, once per audience.

A change is committed first; then its events (``coordinator.events``) are published on the
channels as a few bytes naming what moved (never HTML: PostgreSQL NOTIFY carries at most 8000
bytes, and the payload must not depend on who reads it): a case's changes on the case's topic,
a conference's on the conference's. Every server process with pages open on a conference holds
one ``Room``, subscribed to the conference's topic and to the topics of the cases on its agenda,
so a consent withdrawn on the case page reaches the meeting at once. A room reads the current
state once per update, makes one view per audience present (``render.view_for``) and queues the
fragments to each page of that audience. Fragments always show the current state, never a
delta, so a page that connects (or reconnects) is simply sent everything.

Sessions ending (logout, deactivation) are published on one more topic; every page of that
session, in any process, is closed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from jinja2 import Environment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coordinator import accounts, gate
from coordinator.conference import participation
from coordinator.conference.state import CASE_ASPECTS, EVERYTHING, load_state
from coordinator.errors import NotFound
from coordinator.events import CASE_PARTS, CONFERENCE_PARTS, CaseChanged, ConferenceChanged, Event, SessionsEnded
from coordinator.models import AgendaItem, LiveConnection, User, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor, Audience
from coordinator.web.live.channels import Channels, Subscription
from coordinator.web.live.render import in_page_order, render_fragment, view_for
from coordinator.web.sessions import renew_sessions

log = logging.getLogger("coordinator.live")

# What each fragment of a live page reads, in the parts events name (``coordinator.events``):
# of a case on the agenda, and of the conference. The maps from a change to the fragments it
# moves are derived from this, so a fragment cannot miss a change to something it shows (the
# case's facts name the lead agency, which is the role map's: a role change moves them too).
# Every fragment reads which agencies are on the case (who may see it in full) and the
# conference's status (which case is current).
FRAGMENT_READS: dict[str, dict[str, frozenset[str]]] = {
    "status": {"case": frozenset({"case"}), "conference": frozenset({"agenda"})},  # the agenda's references
    "agenda": {"case": frozenset({"case", "tasks"}), "conference": frozenset({"agenda", "actions"})},
    "presence": {"case": frozenset(), "conference": frozenset({"participants"})},
    "case": {"case": frozenset({"case", "items", "consents", "overrides", "roles"}), "conference": frozenset()},
    "roles": {"case": frozenset({"roles"}), "conference": frozenset({"roles"})},
    "actions": {"case": frozenset({"tasks"}), "conference": frozenset({"actions"})},
    "new_action": {"case": frozenset(), "conference": frozenset()},  # the case's agencies and their people
    "notes": {"case": frozenset(), "conference": frozenset({"notes"})},
}
READ_BY_EVERY_FRAGMENT = {"case": frozenset({"agencies"}), "conference": frozenset({"status"})}


def _moved_by(kind: str, parts: frozenset[str]) -> dict[str, set[str]]:
    return {part: {aspect for aspect, reads in FRAGMENT_READS.items()
                   if part in reads[kind] | READ_BY_EVERY_FRAGMENT[kind]} for part in sorted(parts)}


# Which fragments of a live page each domain fact moves. Raised events and follow-ups show on
# the case page only (the meeting shows their tasks): they move no fragment here.
CASE_PART_ASPECTS = _moved_by("case", CASE_PARTS)
CONFERENCE_PART_ASPECTS = _moved_by("conference", CONFERENCE_PARTS)


@dataclass(eq=False)
class Member:
    """One open page: who is looking, as which audience, in which login session, and what is
    waiting to be sent to it. ``ended`` is set when its session ends, ``removed`` when its person
    may no longer see what it shows, ``behind`` when it fell further behind than its outbox holds."""

    actor: Actor
    audience: Audience
    session_key: str | None
    outbox_limit: int = 64
    outbox: asyncio.Queue[str] = field(init=False)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    removed: asyncio.Event = field(default_factory=asyncio.Event)  # no longer admitted to what it shows
    behind: asyncio.Event = field(default_factory=asyncio.Event)
    connection: LiveConnection | None = None  # its presence row, kept fresh by the hub's heartbeat
    welcomed: bool = False  # sent the whole page; until then, partial updates would be out of order

    def __post_init__(self) -> None:
        self.outbox = asyncio.Queue(maxsize=self.outbox_limit)

    def offer(self, message: str) -> None:
        """Queue a message for the page. A slow or stuck page is not buffered without end: once
        its outbox is full it is closed (1013), and it reconnects to the whole current state."""
        if self.behind.is_set():
            return
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.behind.set()


class Room:
    """The pages open on one conference in this process, and the subscription feeding them.

    Work is done in order by a single task: updates announced on the channels, full pages for
    newcomers, and the moment a consent or override on the current case expires. Whatever piled
    up meanwhile is merged into one update.
    """

    def __init__(self, hub: LiveHub, conference_id: int) -> None:
        self.hub = hub
        self.conference_id = conference_id
        self.members: set[Member] = set()
        self.current_case_id: int | None = None
        self._inbox: asyncio.Queue[frozenset[str] | Member] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._expiry: asyncio.TimerHandle | None = None
        self.in_progress = False  # the meeting is live: its open pages count as use of their sessions
        self._waiting: list[Member] = []  # newcomers whose whole page could not be read yet
        self._broken: dict[tuple, str] = {}  # the parts failing now, with their cause (logged once)

    async def open(self) -> None:
        async with self.hub.sessionmaker() as session:
            case_ids = (await session.execute(
                select(AgendaItem.case_id).where(AgendaItem.conference_id == self.conference_id))).scalars().all()
        topics = [self.hub.conference_topic(self.conference_id), *(self.hub.case_topic(c) for c in case_ids)]
        self._subscriber = await self.hub.channels.subscribe(topics)
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._work())]

    async def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        await self.hub.channels.unsubscribe(self._subscriber)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def send_everything(self, member: Member) -> None:
        self._inbox.put_nowait(member)

    def resend_everything(self) -> None:
        """After a channels outage: the pages missed an unknown part of what happened, so each
        gets the whole state, as a newcomer does (one render per audience)."""
        for member in self.members:
            self.send_everything(member)

    def _aspects_of(self, message: dict) -> set[str]:
        if message["kind"] == "conference":
            return set().union(*(CONFERENCE_PART_ASPECTS[p] for p in message["parts"]))
        aspects = set().union(*(CASE_PART_ASPECTS[p] for p in message["parts"]))
        if message["id"] != self.current_case_id and "agencies" not in message["parts"]:
            aspects -= CASE_ASPECTS  # another case on the agenda: only its agenda line can move
        return aspects

    async def _listen(self) -> None:
        async for payload in self._subscriber.iter_events():
            aspects = self._aspects_of(json.loads(payload))
            if aspects:
                self._inbox.put_nowait(frozenset(aspects))

    async def _work(self) -> None:
        while True:
            jobs = [*self._waiting, await self._inbox.get()]
            while not self._inbox.empty():
                jobs.append(self._inbox.get_nowait())
            aspects = frozenset().union(*(job for job in jobs if isinstance(job, frozenset)))
            newcomers = list({job: None for job in jobs if isinstance(job, Member) and job in self.members})
            self._waiting = []
            if aspects:
                # A part that fails is not carried into the next update: it is retried when a
                # change next touches it, and meanwhile every other part keeps moving.
                started = time.perf_counter()
                await self._deliver(aspects, [m for m in self.members if m.welcomed])
                self.hub.on_fanout(time.perf_counter() - started)
            if newcomers:  # a whole room reconnecting costs one render per audience, not per page
                if await self._deliver(EVERYTHING, newcomers):
                    for member in newcomers:
                        member.welcomed = True
                else:  # nothing could be read: they still need a whole page, so they wait for the next job
                    self._waiting = newcomers

    def _failed(self, what: tuple, error: Exception) -> None:
        """Log a failure once per part and cause, not on every change that meets it again."""
        cause = f"{type(error).__name__}: {error}"
        if self._broken.get(what) != cause:
            self._broken[what] = cause
            log.error("live update of conference %s: %s failed (%s)", self.conference_id,
                      " for ".join(map(str, what)), cause, exc_info=error)

    def _recovered(self, what: tuple) -> None:
        if self._broken.pop(what, None) is not None:
            log.info("live update of conference %s: %s renders again", self.conference_id,
                     " for ".join(map(str, what)))

    async def _deliver(self, aspects: frozenset[str], members: Iterable[Member]) -> bool:
        """Send ``aspects`` to ``members``, each audience its own view. A view or a fragment that
        fails is left out (and logged once); everything else is sent. False when the state
        itself could not be read, so nothing was sent."""
        audiences: dict[Audience, list[Member]] = {}
        for member in members:
            audiences.setdefault(member.audience, []).append(member)
        if not audiences:
            return True
        hub = self.hub
        views = {}
        try:
            async with hub.sessionmaker() as session:
                state = await load_state(session, hub.registry, self.conference_id, aspects)
                self.current_case_id = state.current_case_id
                self.in_progress = state.status == "live"
                for audience, group in audiences.items():
                    viewers = list({m.actor.id: m.actor for m in group}.values())
                    try:
                        views[audience] = await view_for(session, hub.registry, state, audience, viewers, aspects)
                        self._recovered(("the view", audience))
                    except Exception as error:  # noqa: BLE001 - one audience's failure is not the room's
                        self._failed(("the view", audience), error)
                if "case" in aspects and state.current_case_id is not None:
                    self._wake_at(await gate.next_grant_change(session, state.current_case_id, utcnow()))
                await session.commit()  # the disclosures the gate recorded
        except Exception as error:  # noqa: BLE001 - the room keeps running; the next change reads again
            self._failed(("reading the state",), error)
            return False
        self._recovered(("reading the state",))
        if state.participants is not None:
            self._follow_seats(state.participants)
        # Rendered once the session has given its connection back: on SQLite there is one, and
        # every request and every other room waits for it.
        for audience, view in views.items():
            fragments = []
            for aspect in in_page_order(aspects):
                try:
                    fragments.append(render_fragment(hub.env, view, aspect))
                    self._recovered((aspect, audience))
                except Exception as error:  # noqa: BLE001 - the other fragments still go
                    self._failed((aspect, audience), error)
            hub.renders += 1
            if fragments:
                rendered = "".join(fragments)
                for member in audiences[audience]:
                    member.offer(rendered)
        return True

    def _follow_seats(self, participants: Iterable) -> None:
        """Pages follow their person's place: removed from the conference, the page closes; a
        place that now makes another audience (role or agency changed) gets its new view whole."""
        seats = {p.user_id: Audience.of(p) for p in participants}
        for member in self.members:
            audience = seats.get(member.actor.id)
            if audience is None:
                member.removed.set()
            elif audience != member.audience:
                member.audience = audience
                self.send_everything(member)

    def _wake_at(self, when) -> None:  # noqa: ANN001
        """Re-render the case when a consent or override on it expires, with no other change."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if when is not None:
            delay = max(0.0, (when - utcnow()).total_seconds()) + 0.01
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(delay, self._inbox.put_nowait, frozenset({"case"}))


# Renders what an open case page gets for one person (the web layer's, set by the app):
# (session, actor, case id, section key, csrf token, the parts that moved or None for all) -> HTML.
CasePageRenderer = Callable[[AsyncSession, Actor, int, str, str, frozenset[str] | None], Awaitable[str]]


@dataclass
class CasePage:
    """An open case page: the form token its forms carry and the section it shows."""

    token: str
    section: str


class CaseWatch:
    """The case pages open on one case in this process. A change announced on the case's topic
    re-renders, for each page, the header and the page's section if they read a part that moved.
    A case page shows a person's own forms and permissions, so it is rendered per page, not per
    audience; few people hold a case page open at once, and each render goes through the gate (its
    disclosures are audited). Each page is rendered on its own: one reader's failure is logged and
    leaves the others updated, and that page gets everything on the next change."""

    def __init__(self, hub: LiveHub, case_id: int) -> None:
        self.hub = hub
        self.case_id = case_id
        self.members: dict[Member, CasePage] = {}
        self._broken: dict[Member, str] = {}  # the readers whose render fails now, with the cause
        self._changed = asyncio.Event()
        self._moved: frozenset[str] = frozenset()  # parts moved since the last pass
        self._everything: set[Member] = set()  # pages owed the whole state (new, reconnected, failed)
        self._tasks: list[asyncio.Task] = []

    async def open(self) -> None:
        self._subscriber = await self.hub.channels.subscribe([self.hub.case_topic(self.case_id)])
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._work())]

    async def close(self) -> None:
        await self.hub.channels.unsubscribe(self._subscriber)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def send_everything(self, *members: Member) -> None:
        """Only these pages get the whole state: a page opening must not redraw the others."""
        self._everything.update(members or self.members)
        self._changed.set()

    async def _listen(self) -> None:
        async for payload in self._subscriber.iter_events():
            self._moved |= frozenset(json.loads(payload)["parts"])
            self._changed.set()

    async def _work(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()  # whatever arrives while rendering is one more pass
            moved, self._moved = self._moved, frozenset()
            everything, self._everything = self._everything, set()
            for member, page in list(self.members.items()):
                parts = None if member in everything else moved
                if parts is not None and not parts:
                    continue
                try:
                    await self._render_for(member, page, parts)
                except Exception as error:  # one reader's failure is not the others'
                    self._everything.add(member)  # that page gets the whole state on the next change
                    cause = f"{type(error).__name__}: {error}"
                    if self._broken.get(member) != cause:  # logged once, not on every change
                        self._broken[member] = cause
                        log.error("live update of case %s for user %s failed (%s)", self.case_id,
                                  member.actor.id, cause, exc_info=error)
                else:
                    self._broken.pop(member, None)

    async def _render_for(self, member: Member, page: CasePage, parts: frozenset[str] | None) -> None:
        """One reader's header and section, as the reader now stands: their role and agency are
        read again each time (an account changed since the page opened is shown as it is now); a
        reader no longer allowed to see the case has the page closed, as a missing case."""
        async with self.hub.sessionmaker() as session:
            user = await session.get(User, member.actor.id)
            if user is None or not user.active:
                member.ended.set()
                return
            member.actor = accounts.actor_of(user)
            member.audience = Audience(user.agency, "member")
            try:
                html = await self.hub.case_page(session, member.actor, self.case_id, page.section, page.token, parts)
            except NotFound:
                member.removed.set()
                return
            await session.commit()  # the disclosures the gate recorded
        if html:
            member.offer(html)


class LiveHub:
    """This process's rooms, one per conference with pages open, and its case watches, one per
    case with pages open; the publisher of committed events to every process; and the closer of
    pages whose session ended."""

    def __init__(self, channels: Channels, sessionmaker: async_sessionmaker[AsyncSession],
                 registry: AgencyRegistry, env: Environment, prefix: str, outbox_limit: int = 64, *,
                 process: str = "", heartbeat_seconds: float = 10, session_check_seconds: float = 15,
                 session_idle_seconds: int = 1800) -> None:
        self.channels = channels
        self.process = process
        self.heartbeat_seconds = heartbeat_seconds
        self.session_check_seconds = session_check_seconds
        self.session_idle_seconds = session_idle_seconds
        channels.on_recovered = self._resend_everything
        self.outbox_limit = outbox_limit
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.env = env
        self.prefix = prefix
        self.rooms: dict[int, Room] = {}
        self.cases: dict[int, CaseWatch] = {}
        self.case_page: CasePageRenderer | None = None
        self.renders = 0  # fragments rendered for an audience, since start (for measurements)
        self.on_fanout: Callable[[float], None] = lambda seconds: None  # the metrics' fan-out histogram
        self._lock = asyncio.Lock()
        self._sessions_task: asyncio.Task | None = None
        self._watchers: list[asyncio.Task] = []

    def stats(self) -> dict:
        """What this process is serving: renders so far, and per conference the open pages and
        the audiences among them (renders per change = audiences present); and its garbage
        collector: objects frozen at start-up, thresholds, full collections so far (each one
        walks every page's objects, and every update in flight waits for it)."""
        collector = {"frozen": gc.get_freeze_count(), "thresholds": gc.get_threshold(),
                     "full_collections": gc.get_stats()[2]["collections"]}
        return {"renders": self.renders, "collector": collector, "conferences": {
            conference_id: {"pages": len(room.members), "audiences": len({m.audience for m in room.members}),
                            "agencies": len({m.audience.agency for m in room.members})}
            for conference_id, room in self.rooms.items()}}

    def conference_topic(self, conference_id: int) -> str:
        return f"{self.prefix}_conference_{conference_id}"

    def case_topic(self, case_id: int) -> str:
        return f"{self.prefix}_case_{case_id}"

    @property
    def running(self) -> bool:
        return self.channels.started

    @property
    def sessions_topic(self) -> str:
        return f"{self.prefix}_sessions"

    def publish(self, facts: list[Event]) -> None:
        """Announce committed events to every process (called right after the commit). Before
        the channels have started (no server running), no page can be open to hear it."""
        if not self.running:
            return
        for fact in facts:
            if isinstance(fact, CaseChanged):
                message = {"kind": "case", "id": fact.case_id, "parts": sorted(fact.parts)}
                topic = self.case_topic(fact.case_id)
            elif isinstance(fact, ConferenceChanged):
                message = {"kind": "conference", "id": fact.conference_id, "parts": sorted(fact.parts)}
                topic = self.conference_topic(fact.conference_id)
            elif isinstance(fact, SessionsEnded):
                message = {"user_id": fact.user_id, "session_key": fact.session_key}
                topic = self.sessions_topic
            else:
                continue
            self.channels.publish(json.dumps(message), topic)

    async def _watch_sessions(self) -> None:
        """Once per process, when its first live page opens (called under the lock)."""
        if self._sessions_task is None:
            subscriber = await self.channels.subscribe([self.sessions_topic])
            self._sessions_task = asyncio.create_task(self._end_sessions(subscriber))
            self._watchers = [asyncio.create_task(self._keep_alive()), asyncio.create_task(self._check_sessions())]

    async def watch_case(self, case_id: int, actor: Actor, session_key: str | None, token: str,
                         section: str) -> tuple[CaseWatch, Member]:
        """Register a case page, subscribing first if it is the case's first page here; it is
        sent its sections at once, so nothing between its first render and now is missed."""
        async with self._lock:
            await self._watch_sessions()
            watch = self.cases.get(case_id)
            if watch is None:
                watch = CaseWatch(self, case_id)
                await watch.open()
                self.cases[case_id] = watch
            member = Member(actor, Audience(actor.agency, "member"), session_key, self.outbox_limit)
            watch.members[member] = CasePage(token, section)
        watch.send_everything(member)
        return watch, member

    async def unwatch_case(self, watch: CaseWatch, member: Member) -> None:
        async with self._lock:
            watch.members.pop(member, None)
            watch._broken.pop(member, None)
            if not watch.members and self.cases.get(watch.case_id) is watch:
                del self.cases[watch.case_id]
                await watch.close()

    async def enter(self, conference_id: int, actor: Actor, audience: Audience,
                    session_key: str | None) -> tuple[Room, Member]:
        """Register a page in its room, subscribing first if it is the room's first page, so no
        update is missed between now and the full page it is sent next."""
        async with self._lock:
            await self._watch_sessions()
            room = self.rooms.get(conference_id)
            if room is None:
                room = Room(self, conference_id)
                await room.open()
                self.rooms[conference_id] = room
            member = Member(actor, audience, session_key, self.outbox_limit)
            room.members.add(member)
        return room, member

    async def leave(self, room: Room, member: Member) -> None:
        async with self._lock:
            room.members.discard(member)
            if not room.members and self.rooms.get(room.conference_id) is room:
                del self.rooms[room.conference_id]
                await room.close()

    def _resend_everything(self) -> None:
        for room in self.rooms.values():
            room.resend_everything()
        for watch in self.cases.values():
            watch.send_everything()

    def open_pages(self) -> list[Member]:
        """Every live page open in this process, conference and case pages alike."""
        return ([member for room in self.rooms.values() for member in room.members]
                + [member for watch in self.cases.values() for member in watch.members])

    async def _every(self, seconds: float, work, what: str) -> None:  # noqa: ANN001
        """Run ``work`` (under the lock, so no page comes or goes meanwhile) every ``seconds``:
        once per process, whatever the number of pages; a failed run is logged and retried."""
        while True:
            await asyncio.sleep(seconds)
            try:
                async with self._lock, self.sessionmaker() as session:
                    await work(session)
                    await session.commit()
            except Exception:
                log.exception("%s failed; retrying in %s s", what, seconds)

    async def _keep_alive(self) -> None:
        """Heartbeat of every page this process serves (presence), and the sweep of the stale."""
        await self._every(self.heartbeat_seconds, self.beat, "the presence heartbeat")

    async def beat(self, session: AsyncSession) -> None:
        """One heartbeat. Someone who only listens in a meeting in progress does nothing the
        server would see: their open page is their use of the session, so it does not end under
        them (a page of a meeting not yet started, or ended, is not)."""
        connections = [m.connection for m in self.open_pages() if m.connection is not None]
        await participation.heartbeat(session, self.process, connections)
        listening = {m.session_key for room in self.rooms.values() if room.in_progress
                     for m in room.members if m.session_key is not None and not m.ended.is_set()}
        await renew_sessions(session, listening, self.session_idle_seconds)

    async def _check_sessions(self) -> None:
        """Close the pages whose login session no longer holds (idle expiry, deactivation, or a
        logout whose announcement never reached this process): one query for all of them."""
        async def check(session: AsyncSession) -> None:
            members = self.open_pages()
            held = await accounts.live_sessions(session, {m.session_key for m in members if m.session_key})
            for member in members:
                if member.session_key not in held:
                    member.ended.set()
        await self._every(self.session_check_seconds, check, "the session check")

    async def _end_sessions(self, subscriber: Subscription) -> None:
        async for payload in subscriber.iter_events():
            ended = json.loads(payload)
            for member in self.open_pages():
                if member.actor.id == ended["user_id"] and ended["session_key"] in (None, member.session_key):
                    member.ended.set()
