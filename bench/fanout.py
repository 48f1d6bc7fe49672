"""Live fan-out: how long a change made in a conference takes to reach the last participant.

For each configuration (P participants in each of C conferences live at once) this starts
the real server on a fresh database, creates the people and the conferences, logs every
participant in through /login and opens their live page with a real websocket client (from
several agencies, Origin set as a browser would). The chair of each conference then updates the
case's action plan at a steady rate through the live page's form: one of its five actions in turn is
marked blocked with a new reason, so every change shows while the page keeps a meeting's size.
The time from sending that request to the last participant's receipt of the fragment showing
the change is one sample.

In the same run, the floor: a bare websocket server (plain ``websockets`` on uvloop, as uvicorn
runs the real one) that broadcasts each payload to the same number of clients (the very bytes the
server sent for that change), measured the same way from the request to the last receipt.

And the durable floor: a bare ASGI server on uvicorn, configured as the real one, that receives the
very same request (form, headers, cookies), commits one row with it to the same database, and then
broadcasts the same bytes. It says what persistence itself costs, so ``durable_ratio`` says how
close the real path is to it.

With ``--processes 2`` (PostgreSQL and ``--channels-url`` only: SQLite is one server process), the
benchmark round-robins over the server processes itself: people log in and open their pages on
each in turn, and each chair's successive changes go to each in turn.

Each configuration prints one line:

    fanout P=<p> C=<c> [db=postgresql processes=2] p50_ms=<x> p99_ms=<y> floor_p99_ms=<z> ratio=<p99/floor_p99>
        durable_p99_ms=<d> durable_ratio=<p99/d> rss_kb_per_page=<r> full_gc=<n>

``rss_kb_per_page``: the growth of the server processes' resident memory from before the pages
open to after they all are, divided by the pages. ``full_gc``: the full garbage collections the
server processes made while the changes were made (each walks every open page's objects, and
every update in flight waits for it). ``--profile DIR`` records each server process
with py-spy while the changes are made and prints the top entries.

Usage: python bench/fanout.py [--participants 200 50 20 --conferences 1 1 20]
                              [--changes N] [--rate PER_SECOND] [--no-compression] [--database-url URL]
                              [--channels-url URL --processes N] [--profile DIR]
Everything runs on this machine, over loopback, and every process started is stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the server helpers are shared with the live tests

import httpx  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402
from profiling import start_recording, stop_recording, summary  # noqa: E402  (bench/, beside this file)
from sqlalchemy import Column, Integer, MetaData, Table, Text, insert, select, update  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from coordinator import cases, db
from coordinator.accounts import actor_of  # noqa: E402
from coordinator.cases import PersonIn, ReferralIn  # noqa: E402
from coordinator.conference import actions, meeting, schedule  # noqa: E402
from coordinator.conference.actions import ActionIn  # noqa: E402
from coordinator.conference.meeting import VersionIn  # noqa: E402
from coordinator.conference.participation import InviteIn  # noqa: E402
from coordinator.conference.schedule import ConferenceIn  # noqa: E402
from coordinator.models import Participant, Task, User, utcnow  # noqa: E402
from coordinator.plugins import load_agencies  # noqa: E402
from coordinator.settings import ReferralThresholds  # noqa: E402
from tests.databases import empty_tables  # noqa: E402
from tests.live.clients import Person  # noqa: E402
from tests.live.server import ServerProcess, start_server  # noqa: E402

DEFAULT_CONFIGURATIONS = [(200, 1), (50, 1), (20, 20)]
PASSWORD = "fan-out bench password"
ACTIONS = 5  # on the case under discussion; the changes go round them
MARK = "Change #"  # each change's reason reads "Change #000012"
CHANGE_NUMBER = re.compile(re.escape(MARK) + r"(\d{6})")
BATCH = 25  # logins and connections opened at once
WAIT = 120.0  # seconds: the most any phase may take before the run is abandoned


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the clients, shared by both measurements -----------------------------------------------------

@dataclass(eq=False)
class Receiver:
    """One participant's open page: when each change was first shown on it."""

    socket: ClientConnection
    changes: int
    shown_at: list[float] = field(default_factory=list)
    shown_upto: int = -1  # the highest change shown so far (-1: none)
    first_messages: dict[int, str] = field(default_factory=dict)  # change -> the message that first showed it
    keep_messages: bool = False
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    loaded: asyncio.Event = field(default_factory=asyncio.Event)  # the first message (the whole page) came

    def __post_init__(self) -> None:
        self.shown_at = [math.nan] * (self.changes + 1)

    async def run(self) -> None:
        async for message in self.socket:
            now = time.perf_counter()
            self.loaded.set()
            latest = max(map(int, CHANGE_NUMBER.findall(message)), default=-1)
            if latest <= self.shown_upto:
                continue  # presence and other updates, or a change already shown
            for change in range(self.shown_upto + 1, latest + 1):
                self.shown_at[change] = now  # a merged update shows several changes at once
                if self.keep_messages:
                    self.first_messages[change] = message
            self.shown_upto = latest
            self.progress.set()

    async def wait_for(self, change: int) -> None:
        while self.shown_upto < change:
            self.progress.clear()
            await self.progress.wait()


@dataclass
class Room:
    """The receivers of one conference (or one floor room) and when each change was sent."""

    receivers: list[Receiver]
    sent_at: list[float]

    async def wait_for(self, change: int) -> None:
        await asyncio.gather(*(receiver.wait_for(change) for receiver in self.receivers))

    def latencies_ms(self, first: int, last: int) -> list[float]:
        """Per change, the time from sending it to the last receiver showing it."""
        return [(max(r.shown_at[change] for r in self.receivers) - self.sent_at[change]) * 1000
                for change in range(first, last + 1)]


async def open_socket(url: str, compression: str | None, **kwargs) -> ClientConnection:
    """A client websocket; ``compression="deflate"`` offers permessage-deflate, as browsers do."""
    return await connect(url, compression=compression, max_size=None, open_timeout=WAIT, **kwargs)


async def in_batches(work, items) -> list:  # noqa: ANN001
    results = []
    for start in range(0, len(items), BATCH):
        results += await asyncio.gather(*(work(item) for item in items[start:start + BATCH]))
    return results


async def drive(rooms: list[Room], send, changes: int, rate: float, first: int = 1) -> None:  # noqa: ANN001
    """Change 0 warms every room up (unless ``first`` says earlier changes were made); then each
    room gets changes ``first`` to ``changes`` at ``rate`` per second, each sent on the clock
    whether or not the previous one has been seen (a steady rate). The chairs act independently,
    so their clocks are spread evenly over one interval."""
    if first == 1:
        for index, room in enumerate(rooms):
            room.sent_at[0] = time.perf_counter()
            await send(index, 0)
        await asyncio.wait_for(asyncio.gather(*(room.wait_for(0) for room in rooms)), WAIT)
    start = time.perf_counter()

    async def chair(index: int, room: Room) -> None:
        offset = index / (rate * len(rooms))
        requests = []
        for change in range(first, changes + 1):
            await asyncio.sleep(max(0.0, start + offset + (change - first) / rate - time.perf_counter()))
            room.sent_at[change] = time.perf_counter()
            requests.append(asyncio.create_task(send(index, change)))
        await asyncio.gather(*requests)

    await asyncio.wait_for(asyncio.gather(*(chair(index, room) for index, room in enumerate(rooms))),
                           (changes - first + 1) / rate + WAIT)
    await asyncio.wait_for(asyncio.gather(*(room.wait_for(changes) for room in rooms)), WAIT)


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


# --- the real server --------------------------------------------------------------------------------

@dataclass
class Conference:
    id: int
    action_ids: list[int]  # the actions the chair updates in turn (each at version 1 when created)
    usernames: list[str]  # the chair first


def fresh_database(database_url: str | None, folder: Path, name: str) -> str:
    """A migrated, empty database: a new SQLite file, or the given scratch database emptied."""
    if database_url is None:
        url = f"sqlite+aiosqlite:///{folder / name}.db"
        db.migrate(url)
        return url
    db.migrate(database_url)
    asyncio.run(empty_tables(database_url))
    return database_url


async def create_conferences(url: str, participants: int, count: int) -> list[Conference]:
    """``count`` live conferences of ``participants`` people each (the chair included), spread
    over the installed agencies, everyone invited and past the confidentiality statement, and
    ``ACTIONS`` actions agreed on the case under discussion. People are written straight to the
    database with a cheap password hash, to save minutes of hashing."""
    registry = load_agencies()
    agencies = registry.keys
    password_hash = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    engine = db.create_engine(url)
    created = []
    async with db.create_sessionmaker(engine)() as session:
        for number in range(count):
            people = [User(username=f"c{number}p{n}", display_name=f"Person {number}.{n}",
                           agency=agencies[n % len(agencies)], role="coordinator" if n == 0 else "member",
                           password_hash=password_hash) for n in range(participants)]
            session.add_all(people)
            await session.flush()
            chair = actor_of(people[0])
            case = await cases.create_case(session, registry, ReferralThresholds(), chair, ReferralIn(
                kind="domestic_abuse", people=[PersonIn("survivor", f"Survivor {number}")], checklist_score=15,
                agencies=agencies, summary="Created for the fan-out benchmark."), utcnow().date())
            conference = await schedule.schedule_conference(session, registry, chair, ConferenceIn(
                title=f"Fan-out {number}", scheduled_at=utcnow(), chair_id=people[0].id, case_ids=[case.id],
                participants=[InviteIn(p.id, "representative") for p in people[1:]]))
            await session.execute(update(Participant).where(Participant.conference_id == conference.id)
                                  .values(statement_accepted_at=utcnow()))
            await meeting.start_conference(session, registry, chair, conference.id, VersionIn(version=1))
            for n in range(ACTIONS):
                await actions.add_action(session, registry, chair, conference.id, ActionIn(
                    case_id=case.id, agency=agencies[n % len(agencies)], title=f"Action {n + 1} of the safety plan",
                    domain="victim", due_on=utcnow().date()))
            action_ids = (await session.execute(select(Task.id).where(Task.conference_id == conference.id)
                                                .order_by(Task.id))).scalars().all()
            created.append(Conference(conference.id, list(action_ids), [p.username for p in people]))
        await session.commit()
    await engine.dispose()
    return created


def change_form(conference: Conference, change: int) -> dict[str, object]:
    """The live page's form for one change, as the chair's browser sends it."""
    return {"task_id": conference.action_ids[change % ACTIONS], "status": "blocked",
            "reason": f"{MARK}{change:06d}", "version": change // ACTIONS + 1}


def action_updater(servers: list[ServerProcess], planned: list[Conference], chairs: list[httpx.AsyncClient]):  # noqa: ANN201
    """``send(index, change)`` for ``drive``: conference ``index``'s chair makes ``change`` through
    the live page's own form, as the chair's browser sends it, on the server processes in turn."""
    turns = [asyncio.Lock() for _ in planned]  # each change names the version the previous one left

    async def update_action(index: int, change: int) -> None:
        conference, chair = planned[index], chairs[index]
        server = servers[(index + change) % len(servers)]
        async with turns[index]:
            response = await chair.post(f"{server.base_url}/conferences/{conference.id}/changes/action-status",
                                        data=change_form(conference, change),
                                        headers={"hx-request": "true", "x-csrftoken": chair.cookies["csrftoken"]})
        if response.status_code != 200:
            raise RuntimeError(f"the change was refused: {response.status_code} {response.text}")

    return update_action


def resident_kb(pids: list[int]) -> int:
    """The resident memory of these processes together."""
    total = 0
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))
    return total


@dataclass
class ServerRun:
    latencies: list[float]
    messages: list[dict[int, str]]  # per conference, the message that first showed each change
    chair_cookies: list[dict[str, str]]  # per conference, what the chair's requests carried
    rss_kb_per_page: float
    full_collections: int  # by the server's garbage collector while the changes were made
    profile: str | None = None


async def measure_server(servers: list[ServerProcess], planned: list[Conference], changes: int, rate: float,
                         compression: str | None, profile: Path | None) -> ServerRun:
    """The latencies over the real server processes, taken in turn (round-robin) by logins,
    pages and each chair's changes."""
    people: list[Person] = []
    receivers: list[Receiver] = []
    tasks: list[asyncio.Task] = []
    try:
        everyone = [(conference, name) for conference in planned for name in conference.usernames]

        async def log_in(entry: tuple[int, tuple[Conference, str]]) -> Person:
            person = Person(servers[entry[0] % len(servers)], entry[1][1])
            people.append(person)
            return await person.login(PASSWORD)

        logged_in = await asyncio.wait_for(in_batches(log_in, list(enumerate(everyone))), WAIT)
        log(f"  {len(logged_in)} people logged in")
        rss_before = resident_kb([server.pid for server in servers])

        async def open_page(entry: tuple[tuple[Conference, str], Person]) -> Receiver:
            (conference, _), person = entry
            cookies = "; ".join(f"{name}={value}" for name, value in person.http.cookies.items())
            socket = await open_socket(person.server.ws_url(f"/conferences/{conference.id}/live"), compression,
                                       origin=person.server.base_url, additional_headers={"Cookie": cookies})
            receiver = Receiver(socket, changes)
            receivers.append(receiver)
            tasks.append(asyncio.create_task(receiver.run()))
            await asyncio.wait_for(receiver.loaded.wait(), WAIT)  # open, as a browser's page is, once shown
            return receiver

        opened = await asyncio.wait_for(in_batches(open_page, list(zip(everyone, logged_in))), WAIT)
        await asyncio.sleep(1.0)  # the arrivals' presence updates settle
        rss_kb_per_page = (resident_kb([server.pid for server in servers]) - rss_before) / len(opened)
        log(f"  {len(opened)} live pages open; {rss_kb_per_page:.0f} kB resident per page")
        rooms = []
        for number, conference in enumerate(planned):
            members = opened[number * len(conference.usernames):(number + 1) * len(conference.usernames)]
            members[0].keep_messages = True
            rooms.append(Room(members, [math.nan] * (changes + 1)))
        chairs = [logged_in[number * len(c.usernames)].http for number, c in enumerate(planned)]
        update_action = action_updater(servers, planned, chairs)

        async def full_collections() -> int:
            """Of the server processes together, so far."""
            stats = [(await chairs[0].get(f"{server.base_url}/api/live/stats")).json() for server in servers]
            return sum(s["collector"]["full_collections"] for s in stats)

        recorders = [start_recording(server.pid, profile / f"server-{n}.raw") for n, server in enumerate(servers)] \
            if profile else []
        collections_before = await full_collections()
        try:
            await drive(rooms, update_action, changes, rate)
        finally:
            for recorder in recorders:
                stop_recording(recorder)
        collections = await full_collections() - collections_before
        return ServerRun(latencies=[ms for room in rooms for ms in room.latencies_ms(1, changes)],
                         messages=[room.receivers[0].first_messages for room in rooms],
                         chair_cookies=[dict(chair.cookies.items()) for chair in chairs],
                         rss_kb_per_page=rss_kb_per_page, full_collections=collections,
                         profile="\n".join(summary(profile / f"server-{n}.raw") for n in range(len(servers)))
                         if profile else None)
    finally:
        for server in servers:  # first, so closing the pages sets off no storm of departures
            await asyncio.to_thread(server.stop)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(r.socket.close() for r in receivers), return_exceptions=True)
        await asyncio.gather(*(p.close() for p in people), return_exceptions=True)


# --- the floor: a bare websocket broadcast server ----------------------------------------------------

FLOOR_CONTROL = "/control"


async def floor_server() -> None:
    """Clients connect to /room/<n>; the control connection loads payloads ("load <room> <change>
    <payload>", answered "ok") and broadcasts them ("send <room> <change>", not answered)."""
    from websockets.asyncio.server import broadcast, serve

    rooms: dict[str, set] = defaultdict(set)
    payloads: dict[tuple[str, str], str] = {}

    async def handler(connection) -> None:  # noqa: ANN001
        path = connection.request.path
        if path == FLOOR_CONTROL:
            async for message in connection:
                verb, room, change, *rest = message.split(" ", 3)
                if verb == "load":
                    payloads[room, change] = rest[0]
                    await connection.send("ok")
                else:
                    broadcast(rooms[room], payloads[room, change])
            return
        rooms[path].add(connection)
        try:
            await connection.wait_closed()
        finally:
            rooms[path].discard(connection)

    # Like the coordinator's server, the floor declines permessage-deflate: both send the same
    # uncompressed bytes, whatever the clients offer.
    async with serve(handler, "127.0.0.1", 0, max_size=None, compression=None) as server:
        print(f"floor listening on {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.get_running_loop().create_future()


def start_floor(*arguments: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, __file__, *(arguments or ["--floor-server"])], stdout=subprocess.PIPE,
                               text=True)
    line = process.stdout.readline()
    if not line.startswith("floor listening on "):
        stop_floor(process)
        raise RuntimeError(f"the floor server did not start: {line!r}")
    return process, f"ws://127.0.0.1:{line.split()[-1]}"


def stop_floor(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()
    process.stdout.close()


async def measure_floor(planned: list[Conference], messages: list[dict[int, str]], changes: int, rate: float,
                        compression: str | None) -> list[float]:
    """The same clients and the same payloads, broadcast by the bare server."""
    process, base = start_floor()
    receivers: list[Receiver] = []
    tasks: list[asyncio.Task] = []
    try:
        control = await open_socket(base + FLOOR_CONTROL, None)
        for number, shown in enumerate(messages):
            for change, message in shown.items():
                await control.send(f"load /room/{number} {change} {message}")
                await control.recv()

        async def open_page(number: int) -> Receiver:
            receiver = Receiver(await open_socket(f"{base}/room/{number}", compression), changes)
            receivers.append(receiver)
            tasks.append(asyncio.create_task(receiver.run()))
            return receiver

        rooms = []
        for number, conference in enumerate(planned):
            members = await in_batches(open_page, [number] * len(conference.usernames))
            rooms.append(Room(members, [math.nan] * (changes + 1)))

        async def send(index: int, change: int) -> None:
            await control.send(f"send /room/{index} {change}")

        await drive(rooms, send, changes, rate)
        await control.close()
        return [ms for room in rooms for ms in room.latencies_ms(1, changes)]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(r.socket.close() for r in receivers), return_exceptions=True)
        stop_floor(process)


# --- the durable floor: a bare server that persists each change before broadcasting it ------------

FLOOR_ROWS = Table("fanout_durable_floor", MetaData(), Column("id", Integer, primary_key=True),
                   Column("room", Integer, nullable=False), Column("change", Integer, nullable=False),
                   Column("body", Text, nullable=False))


def durable_floor_app(database_url: str):  # noqa: ANN201 (an ASGI application)
    """Pages connect to /room/<n>. ``POST /load/<n>/<change>`` holds a payload; ``POST
    /change/<n>/<change>`` (the chair's very request) commits one row with the request's body,
    then queues the held payload to every page of the room, each sent by its own task, as the
    real server does."""
    engine = db.create_engine(database_url)  # the same engine settings (SQLite: one connection, WAL)
    rooms: dict[int, set[asyncio.Queue]] = defaultdict(set)
    payloads: dict[tuple[int, int], str] = {}

    async def body_of(receive) -> bytes:  # noqa: ANN001
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        return body

    async def page(scope, receive, send) -> None:  # noqa: ANN001
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        outbox: asyncio.Queue[str] = asyncio.Queue()
        room = rooms[int(scope["path"].rsplit("/", 1)[1])]
        room.add(outbox)

        async def forward() -> None:
            while True:
                await send({"type": "websocket.send", "text": await outbox.get()})

        sender = asyncio.create_task(forward())
        try:
            while (await receive())["type"] != "websocket.disconnect":
                pass
        finally:
            room.discard(outbox)
            sender.cancel()

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await engine.dispose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] == "websocket":
            await page(scope, receive, send)
            return
        verb, room, change = scope["path"].strip("/").split("/")
        key = int(room), int(change)
        body = await body_of(receive)
        if verb == "load":
            payloads[key] = body.decode()
        else:
            async with engine.begin() as connection:
                await connection.execute(insert(FLOOR_ROWS).values(room=key[0], change=key[1], body=body.decode()))
            for outbox in rooms[key[0]]:
                outbox.put_nowait(payloads[key])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b""})

    return app


def serve_durable_floor(database_url: str) -> None:
    """Uvicorn as ``coordinator serve`` runs it (uvloop, httptools, websockets-sansio, no deflate)."""
    import socket

    import uvicorn

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(2048)  # connections made before uvicorn is up wait in the backlog, not refused
    print(f"floor listening on {listening.getsockname()[1]}", flush=True)
    config = uvicorn.Config(durable_floor_app(database_url), log_level="warning", ws="websockets-sansio",
                            ws_per_message_deflate=False)
    uvicorn.Server(config).run(sockets=[listening])


async def measure_durable_floor(planned: list[Conference], run: ServerRun, database_url: str, changes: int,
                                rate: float, compression: str | None) -> list[float]:
    """The same clients, the same requests and the same payloads, through the durable floor."""
    engine = db.create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(FLOOR_ROWS.create, checkfirst=True)
    await engine.dispose()
    process, base = start_floor("--durable-floor-server", database_url)
    http_base = "http" + base.removeprefix("ws")
    receivers: list[Receiver] = []
    tasks: list[asyncio.Task] = []
    chairs = [httpx.AsyncClient(base_url=http_base, cookies=cookies) for cookies in run.chair_cookies]
    try:
        for number, shown in enumerate(run.messages):
            for change, message in shown.items():
                (await chairs[number].post(f"/load/{number}/{change}", content=message.encode())).raise_for_status()

        async def open_page(number: int) -> Receiver:
            receiver = Receiver(await open_socket(f"{base}/room/{number}", compression), changes)
            receivers.append(receiver)
            tasks.append(asyncio.create_task(receiver.run()))
            return receiver

        rooms = []
        for number, conference in enumerate(planned):
            members = await in_batches(open_page, [number] * len(conference.usernames))
            rooms.append(Room(members, [math.nan] * (changes + 1)))

        async def send(index: int, change: int) -> None:
            chair = chairs[index]
            response = await chair.post(f"/change/{index}/{change}", data=change_form(planned[index], change),
                                        headers={"hx-request": "true", "x-csrftoken": chair.cookies["csrftoken"]})
            response.raise_for_status()

        await drive(rooms, send, changes, rate)
        return [ms for room in rooms for ms in room.latencies_ms(1, changes)]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(r.socket.close() for r in receivers), return_exceptions=True)
        await asyncio.gather(*(chair.aclose() for chair in chairs))
        stop_floor(process)
        engine = db.create_engine(database_url)
        async with engine.begin() as connection:
            await connection.run_sync(FLOOR_ROWS.drop, checkfirst=True)
        await engine.dispose()


# --- the run ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Load:
    changes: int  # per conference
    rate: float  # changes per second in each conference
    compression: str | None  # "deflate" (as browsers offer) or None


@dataclass(frozen=True)
class Deployment:
    database_url: str | None  # None: a new SQLite file per configuration
    channels_url: str  # "memory", or Redis / PostgreSQL shared by the processes
    processes: int
    profile: Path | None  # where py-spy's recordings go, if the servers are profiled

    @property
    def label(self) -> str:
        if self.database_url is None:
            return ""
        return f" db=postgresql channels={self.channels_url.split(':')[0]} processes={self.processes}"


def run_configuration(participants: int, count: int, load: Load, deployment: Deployment, folder: Path) -> str:
    log(f"P={participants} C={count}{deployment.label}: {load.changes} changes per conference at {load.rate:g}/s, "
        f"compression {load.compression or 'off'}")
    url = fresh_database(deployment.database_url, folder, f"fanout-{participants}x{count}")
    planned = asyncio.run(create_conferences(url, participants, count))
    prefix = f"fanout{time.monotonic_ns()}"  # processes of one run share topics; no other run hears them
    servers = []
    try:
        for _ in range(deployment.processes):
            servers.append(start_server(database_url=url, channels_url=deployment.channels_url, channels_prefix=prefix))
    except BaseException:
        for server in servers:
            server.stop()
        raise
    profile = deployment.profile / f"P{participants}C{count}" if deployment.profile else None
    if profile:
        profile.mkdir(parents=True, exist_ok=True)
    run = asyncio.run(measure_server(servers, planned, load.changes, load.rate, load.compression, profile))
    sizes = sorted(len(message.encode()) for shown in run.messages for message in shown.values())
    log(f"  server: {len(run.latencies)} samples; median message {sizes[len(sizes) // 2]} bytes")
    if run.profile:
        log(run.profile)
    floor = asyncio.run(measure_floor(planned, run.messages, load.changes, load.rate, load.compression))
    log(f"  floor: {len(floor)} samples; p50 {statistics.median(floor):.1f} ms")
    durable = asyncio.run(measure_durable_floor(planned, run, url, load.changes, load.rate, load.compression))
    log(f"  durable floor: {len(durable)} samples; p50 {statistics.median(durable):.1f} ms")
    p99, floor_p99, durable_p99 = (percentile(samples, 0.99) for samples in (run.latencies, floor, durable))
    return (f"fanout P={participants} C={count}{deployment.label} p50_ms={statistics.median(run.latencies):.1f} "
            f"p99_ms={p99:.1f} floor_p99_ms={floor_p99:.1f} ratio={p99 / floor_p99:.2f} "
            f"durable_p99_ms={durable_p99:.1f} durable_ratio={p99 / durable_p99:.2f} "
            f"rss_kb_per_page={run.rss_kb_per_page:.0f} full_gc={run.full_collections}")


def configurations(args: argparse.Namespace) -> list[tuple[int, int]]:
    if args.participants is None and args.conferences is None:
        return DEFAULT_CONFIGURATIONS
    participants = args.participants or [20]
    counts = args.conferences or [1]
    if len(participants) != len(counts) and 1 not in (len(participants), len(counts)):
        raise SystemExit("give as many --conferences as --participants (or just one of either)")
    width = max(len(participants), len(counts))
    return list(zip(participants * width if len(participants) == 1 else participants,
                    counts * width if len(counts) == 1 else counts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, nargs="+", help="participants per conference (the chair included)")
    parser.add_argument("--conferences", type=int, nargs="+", help="conferences live at once (paired with --participants)")
    parser.add_argument("--changes", type=int,
                        help="changes per conference (default: 200 shared among the conferences, at least 25 each)")
    parser.add_argument("--rate", type=float,
                        help="changes per second in each conference (default: 5 shared among the conferences, at least 1 each)")
    parser.add_argument("--no-compression", action="store_true",
                        help="clients do not offer permessage-deflate (browsers do, so by default they offer it)")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database to use (emptied first); default: a new SQLite file")
    parser.add_argument("--channels-url", default="memory",
                        help="the channels the server processes share (Redis or PostgreSQL); default: memory")
    parser.add_argument("--processes", type=int, default=1,
                        help="server processes, taken in turn by the benchmark (more than one: PostgreSQL only)")
    parser.add_argument("--profile", type=Path, help="record the server processes with py-spy into this folder")
    parser.add_argument("--floor-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--durable-floor-server", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor_server:
        import uvloop  # the event loop uvicorn runs the real server on

        uvloop.run(floor_server())
        return 0
    if args.durable_floor_server:
        serve_durable_floor(args.durable_floor_server)
        return 0
    if args.processes > 1 and (args.database_url is None or args.channels_url == "memory"):
        raise SystemExit("several server processes need --database-url (PostgreSQL) and --channels-url")
    deployment = Deployment(args.database_url, args.channels_url, args.processes, args.profile)
    with tempfile.TemporaryDirectory(prefix="fanout-") as folder:
        for participants, count in configurations(args):
            if participants < 2 or count < 1:
                raise SystemExit("each conference needs a chair and at least one other participant")
            load = Load(changes=args.changes or max(25, 200 // count), rate=args.rate or max(1.0, 5 / count),
                        compression=None if args.no_compression else "deflate")
            print(run_configuration(participants, count, load, deployment, Path(folder)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
