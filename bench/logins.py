"""A login storm during a live conference: 50 people log in at once while a conference is open and
its chair changes the action plan every 100 ms.

    python bench/logins.py [--logins 50] [--participants 5] [--changes 40] [--rate 10] [--database-url URL]

Starts the real server on a fresh database (SQLite unless ``--database-url`` names a scratch
PostgreSQL database), opens every participant's live page with a real websocket client, and the
chair changes one action's status at a steady ``--rate`` through the live page's form. The storm's
people have real argon2 hashes at the production cost (the conference's people a cheap one, to
save time), and each has its login page (and CSRF cookie) before the storm; then all their
``POST /login`` are sent at once.

Measured in the same run, in turn:

- quiet: ``--changes`` changes with no login under way: the live-update baseline;
- alone: ten logins one after another: the login baseline;
- storm: ``--changes`` more changes, with the storm set off as the first of them is sent. Each
  login's time from sending ``POST /login`` to its answer is one sample; the live-update samples
  are the changes sent while any login was still unanswered.

A live-update sample is the time from sending a change to the last open page showing it (as in
``bench/fanout.py``). Prints one line:

    logins N=<n> login_p50_ms=<x> login_p99_ms=<y> alone_p50_ms=<a> login_ratio=<p99/alone>
        live_p99_quiet_ms=<q> live_p99_storm_ms=<s> live_ratio=<s/q> storm_samples=<k>

A ``live_ratio`` near 1 means the storm does not hold up live updates; with hashing on the event
loop each login stalls every page for its tenth of a second.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from fanout import (  # bench/, beside this file
    PASSWORD,
    WAIT,
    Receiver,
    Room,
    action_updater,
    create_conferences,
    drive,
    fresh_database,
    in_batches,
    log,
    open_socket,
    percentile,
)

from coordinator import db
from coordinator.models import User

# fanout puts the repository on the path: the server helpers are shared with the live tests
from tests.live.clients import Person
from tests.live.server import ServerProcess, start_server

STORM_PASSWORD = "storm password 2026"
ALONE = 10  # logins one after another, for the baseline


async def create_storm_people(url: str, count: int) -> list[str]:
    """``count`` members with a real argon2 hash at the production cost (one hash, shared: each
    login still verifies at full cost)."""
    password_hash = PasswordHasher().hash(STORM_PASSWORD)
    names = [f"storm{n}" for n in range(count + ALONE)]
    engine = db.create_engine(url)
    async with db.create_sessionmaker(engine)() as session:
        session.add_all(User(username=name, display_name=name, agency="police", role="member",
                             password_hash=password_hash) for name in names)
        await session.commit()
    await engine.dispose()
    return names


async def login_page(server: ServerProcess, username: str) -> httpx.AsyncClient:
    """A browser on the login page, ready to submit."""
    client = httpx.AsyncClient(base_url=server.base_url, timeout=WAIT)
    await client.get("/login")
    client.username = username  # type: ignore[attr-defined]
    return client


async def timed_login(client: httpx.AsyncClient) -> float:
    """Milliseconds from sending ``POST /login`` to its answer (a redirect to the dashboard)."""
    started = time.perf_counter()
    response = await client.post("/login", data={"username": client.username, "password": STORM_PASSWORD},
                                 headers={"x-csrftoken": client.cookies["csrftoken"]})
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 303:
        raise RuntimeError(f"the login was refused: {response.status_code} {response.text[:300]}")
    return elapsed


async def measure(server: ServerProcess, url: str, logins: int, participants: int, changes: int,
                  rate: float) -> str:
    [conference] = await create_conferences(url, participants, 1)
    names = await create_storm_people(url, logins)
    people = [await Person(server, name).login(PASSWORD) for name in conference.usernames]
    receivers, tasks, browsers = [], [], []
    try:
        for person in people:
            cookies = "; ".join(f"{name}={value}" for name, value in person.http.cookies.items())
            socket = await open_socket(server.ws_url(f"/conferences/{conference.id}/live"), "deflate",
                                       origin=server.base_url, additional_headers={"Cookie": cookies})
            receiver = Receiver(socket, 2 * changes)
            receivers.append(receiver)
            tasks.append(asyncio.create_task(receiver.run()))
            await asyncio.wait_for(receiver.loaded.wait(), WAIT)
        await asyncio.sleep(1.0)  # the arrivals' presence updates settle
        log(f"  {len(receivers)} live pages open")
        room = Room(receivers, [math.nan] * (2 * changes + 1))
        people[0].http.timeout = httpx.Timeout(WAIT)  # the chair's changes wait out a stalled server
        send = action_updater([server], [conference], [people[0].http])

        # quiet: changes 1..changes, then alone: logins one by one, then storm: the next changes.
        await drive([room], send, changes, rate)
        quiet = room.latencies_ms(1, changes)
        log(f"  quiet: {len(quiet)} changes, live p99 {percentile(quiet, 0.99):.1f} ms")
        browsers = await in_batches(lambda name: login_page(server, name), names)
        alone = [await timed_login(browser) for browser in browsers[logins:]]
        log(f"  alone: {len(alone)} logins, p50 {statistics.median(alone):.1f} ms")

        storm: list[asyncio.Task] = []
        window: list[float] = []

        async def send_with_storm(index: int, change: int) -> None:
            if change == changes + 1 and not storm:  # the storm sets off with the first change of its phase
                window.append(time.perf_counter())
                storm.extend(asyncio.create_task(timed_login(browser)) for browser in browsers[:logins])
            await send(index, change)

        await drive([room], send_with_storm, 2 * changes, rate, first=changes + 1)
        login_ms = await asyncio.gather(*storm)
        ended = window[0] + max(login_ms) / 1000
        during = [ms for change, ms in zip(range(changes + 1, 2 * changes + 1), room.latencies_ms(changes + 1, 2 * changes))
                  if room.sent_at[change] <= ended]
        log(f"  storm: {len(login_ms)} logins, {len(during)} changes sent while logins were unanswered")
    finally:
        await asyncio.to_thread(server.stop)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(r.socket.close() for r in receivers), return_exceptions=True)
        await asyncio.gather(*(p.close() for p in people), *(b.aclose() for b in browsers), return_exceptions=True)
    quiet_p99, storm_p99 = percentile(quiet, 0.99), percentile(during, 0.99)
    login_p99, alone_p50 = percentile(login_ms, 0.99), statistics.median(alone)
    return (f"logins N={logins} login_p50_ms={statistics.median(login_ms):.1f} login_p99_ms={login_p99:.1f} "
            f"alone_p50_ms={alone_p50:.1f} login_ratio={login_p99 / alone_p50:.2f} "
            f"live_p99_quiet_ms={quiet_p99:.1f} live_p99_storm_ms={storm_p99:.1f} live_ratio={storm_p99 / quiet_p99:.2f} "
            f"storm_samples={len(during)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=50, help="logins sent at once (default 50)")
    parser.add_argument("--participants", type=int, default=5, help="live pages open in the conference (default 5)")
    parser.add_argument("--changes", type=int, default=40, help="changes in each phase (default 40)")
    parser.add_argument("--rate", type=float, default=10.0, help="changes per second (default 10: one per 100 ms)")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database to use (emptied first); default: a new SQLite file")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="logins-") as folder:
        url = fresh_database(args.database_url, Path(folder), "logins")
        log(f"{args.logins} logins at once, one conference of {args.participants} live pages, "
            f"a change every {1000 / args.rate:.0f} ms")
        server = start_server(database_url=url)
        print(asyncio.run(measure(server, url, args.logins, args.participants, args.changes, args.rate)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
