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
server sent for that change), measured the same way from the request to the last receipt. Each configuration prints one line:

    fanout P=<p> C=<c> p50_ms=<x> p99_ms=<y> floor_p99_ms=<z> ratio=<p99/floor_p99>

Usage: python bench/fanout.py [--participants 200 50 20 --conferences 1 1 20]
                              [--changes N] [--rate PER_SECOND] [--no-compression] [--database-url URL]
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

from argon2 import PasswordHasher  # noqa: E402
from sqlalchemy import select, update  # noqa: E402
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


async def drive(rooms: list[Room], send, changes: int, rate: float) -> None:  # noqa: ANN001
    """Change 0 warms every room up; then each room gets ``changes`` changes at ``rate`` per second,
    each sent on the clock whether or not the previous one has been seen (a steady rate). The
    chairs act independently, so their clocks are spread evenly over one interval."""
    for index, room in enumerate(rooms):
        room.sent_at[0] = time.perf_counter()
        await send(index, 0)
    await asyncio.wait_for(asyncio.gather(*(room.wait_for(0) for room in rooms)), WAIT)
    start = time.perf_counter()

    async def chair(index: int, room: Room) -> None:
        offset = index / (rate * len(rooms))
        requests = []
        for change in range(1, changes + 1):
            await asyncio.sleep(max(0.0, start + offset + (change - 1) / rate - time.perf_counter()))
            room.sent_at[change] = time.perf_counter()
            requests.append(asyncio.create_task(send(index, change)))
        await asyncio.gather(*requests)

    await asyncio.wait_for(asyncio.gather(*(chair(index, room) for index, room in enumerate(rooms))),
                           changes / rate + WAIT)
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


async def measure_server(server: ServerProcess, planned: list[Conference], changes: int, rate: float,
                         compression: str | None) -> tuple[list[float], list[dict[int, str]]]:
    """The latencies over the real server, and per conference the message that showed each change."""
    people: list[Person] = []
    receivers: list[Receiver] = []
    tasks: list[asyncio.Task] = []
    try:
        everyone = [(conference, name) for conference in planned for name in conference.usernames]

        async def log_in(entry: tuple[Conference, str]) -> Person:
            person = Person(server, entry[1])
            people.append(person)
            return await person.login(PASSWORD)

        logged_in = await asyncio.wait_for(in_batches(log_in, everyone), WAIT)
        log(f"  {len(logged_in)} people logged in")

        async def open_page(entry: tuple[tuple[Conference, str], Person]) -> Receiver:
            (conference, _), person = entry
            cookies = "; ".join(f"{name}={value}" for name, value in person.http.cookies.items())
            socket = await open_socket(server.ws_url(f"/conferences/{conference.id}/live"), compression,
                                       origin=server.base_url, additional_headers={"Cookie": cookies})
            receiver = Receiver(socket, changes)
            receivers.append(receiver)
            tasks.append(asyncio.create_task(receiver.run()))
            await asyncio.wait_for(receiver.loaded.wait(), WAIT)  # open, as a browser's page is, once shown
            return receiver

        opened = await asyncio.wait_for(in_batches(open_page, list(zip(everyone, logged_in))), WAIT)
        log(f"  {len(opened)} live pages open")
        rooms = []
        for number, conference in enumerate(planned):
            members = opened[number * len(conference.usernames):(number + 1) * len(conference.usernames)]
            members[0].keep_messages = True
            rooms.append(Room(members, [math.nan] * (changes + 1)))
        chairs = [logged_in[number * len(c.usernames)] for number, c in enumerate(planned)]
        turns = [asyncio.Lock() for _ in planned]  # each change names the version the previous one left

        async def update_action(index: int, change: int) -> None:
            conference = planned[index]
            chair = chairs[index].http
            async with turns[index]:  # the live page's own form, as the chair's browser sends it
                response = await chair.post(f"/conferences/{conference.id}/changes/action-status", data={
                    "task_id": conference.action_ids[change % ACTIONS], "status": "blocked",
                    "reason": f"{MARK}{change:06d}", "version": change // ACTIONS + 1},
                    headers={"hx-request": "true", "x-csrftoken": chair.cookies["csrftoken"]})
            if response.status_code != 200:
                raise RuntimeError(f"the change was refused: {response.status_code} {response.text}")

        await drive(rooms, update_action, changes, rate)
        latencies = [ms for room in rooms for ms in room.latencies_ms(1, changes)]
        return latencies, [room.receivers[0].first_messages for room in rooms]
    finally:
        await asyncio.to_thread(server.stop)  # first, so closing the pages sets off no storm of departures
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


def start_floor() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, __file__, "--floor-server"], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("floor listening on "):
        process.kill()
        raise RuntimeError(f"the floor server did not start: {line!r}")
    return process, f"ws://127.0.0.1:{line.split()[-1]}"


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
        process.kill()
        process.wait()
        process.stdout.close()


# --- the run ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Load:
    changes: int  # per conference
    rate: float  # changes per second in each conference
    compression: str | None  # "deflate" (as browsers offer) or None


def run_configuration(participants: int, count: int, load: Load, database_url: str | None, folder: Path) -> str:
    log(f"P={participants} C={count}: {load.changes} changes per conference at {load.rate:g}/s, "
        f"compression {load.compression or 'off'}")
    url = fresh_database(database_url, folder, f"fanout-{participants}x{count}")
    planned = asyncio.run(create_conferences(url, participants, count))
    server = start_server(database_url=url)
    latencies, messages = asyncio.run(measure_server(server, planned, load.changes, load.rate, load.compression))
    sizes = sorted(len(message.encode()) for shown in messages for message in shown.values())
    log(f"  server: {len(latencies)} samples; median message {sizes[len(sizes) // 2]} bytes")
    floor = asyncio.run(measure_floor(planned, messages, load.changes, load.rate, load.compression))
    log(f"  floor: {len(floor)} samples; p50 {statistics.median(floor):.1f} ms")
    p99, floor_p99 = percentile(latencies, 0.99), percentile(floor, 0.99)
    return (f"fanout P={participants} C={count} p50_ms={statistics.median(latencies):.1f} p99_ms={p99:.1f} "
            f"floor_p99_ms={floor_p99:.1f} ratio={p99 / floor_p99:.2f}")


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
    parser.add_argument("--floor-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.floor_server:
        import uvloop  # the event loop uvicorn runs the real server on

        uvloop.run(floor_server())
        return 0
    with tempfile.TemporaryDirectory(prefix="fanout-") as folder:
        for participants, count in configurations(args):
            if participants < 2 or count < 1:
                raise SystemExit("each conference needs a chair and at least one other participant")
            load = Load(changes=args.changes or max(25, 200 // count), rate=args.rate or max(1.0, 5 / count),
                        compression=None if args.no_compression else "deflate")
            print(run_configuration(participants, count, load, args.database_url, Path(folder)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
