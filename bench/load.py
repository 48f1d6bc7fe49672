"""Load that stays fast: agency members (locust, ``bench/load_users.py``) read and write one case
while live pages watch its conference and the chair changes the action plan every few seconds.

    python bench/load.py [--users 50] [--pages 20] [--duration 60] [--change-every 3]
                         [--database-url URL --channels-url URL --workers N]
                         [--curve 10,50,100,200] [--results FILE --svg FILE]

Starts the real server on a fresh database (SQLite unless ``--database-url`` names a scratch
PostgreSQL database; ``--workers`` above 1 needs it and ``--channels-url``), opens ``--pages`` live
pages with real websocket clients, then runs locust headless with ``--users`` members for
``--duration`` seconds while the chair changes an action's status every ``--change-every`` seconds.
In the same run, the same locust users are sent for the same time at a bare server (one uvicorn
process answering every request with a fixed page: the floor of the HTTP stack and the load
tool on this machine).

Prints, per route: requests, failures, p50/p95/p99 in ms, and the bare server's p95 beside it;
then one summary line:

    load users=<u> pages=<p> db=<sqlite|postgresql> workers=<n> req_s=<x> bare_req_s=<y> failures=<f>
        worst_p95_ms=<route:ms> live_changes=<sent> live_missed=<pages that missed any> live_p99_ms=<ms>
        rss_mb_start=<a> rss_mb_end=<b> rss_mb_per_min=<slope>

``live_missed`` counts the pages that did not show every change; ``rss_mb_per_min`` is the least
squares slope of the server processes' resident memory, sampled every 5 s. ``--curve`` runs one
configuration per number of users; ``--results`` appends every configuration's figures to a JSON
file and ``--svg`` draws the case page's p95 and the requests per second against the users, one
line per deployment found in the results file.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fanout import (  # bench/, beside this file
    PASSWORD,
    WAIT,
    Receiver,
    Room,
    action_updater,
    create_conferences,
    drive,
    fresh_database,
    log,
    open_socket,
    percentile,
)

from coordinator import db
from coordinator.plugins import load_agencies

# fanout puts the repository on the path: the server helpers are shared with the live tests
from tests.live.clients import Person
from tests.live.server import ServerProcess, start_server

HERE = Path(__file__).resolve().parent
CASE_PAGE = "GET /cases/{case_id}"
SAMPLE_EVERY = 5.0  # seconds between memory samples


# --- the people -----------------------------------------------------------------------------------

def members_of(conference, users: int) -> list[str]:
    """The conference's participants the load logs in (not the chair), each ``name:category`` with a
    category their agency records in (``create_conferences`` spreads people over the agencies in
    turn)."""
    registry = load_agencies()
    agencies = registry.keys
    return [f"{name}:{next(iter(registry.get(agencies[n % len(agencies)]).categories))}"
            for n, name in enumerate(conference.usernames) if n > 0][:users]


def run_locust(host: str, users: int, duration: int, env: dict[str, str], folder: Path) -> dict[str, dict]:
    """Locust headless against ``host``; per route name its figures from locust's CSV."""
    prefix = folder / f"locust-{int(time.time() * 1000)}"
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(HERE / "load_users.py"), "--headless", "--only-summary",
         "--users", str(users), "--spawn-rate", str(max(1, users // 5)), "--run-time", f"{duration}s",
         "--host", host, "--csv", str(prefix), "--loglevel", "WARNING", "--stop-timeout", "5"],
        env={**os.environ, **env}, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        timeout=duration + WAIT)
    with open(f"{prefix}_stats.csv", newline="") as rows:
        return {f"{row['Type']} {row['Name']}".strip(): row for row in csv.DictReader(rows)}


# --- the bare server: the floor ----------------------------------------------------------------------

async def bare_app(scope, receive, send) -> None:  # noqa: ANN001 (an ASGI application)
    """Every request answered at once with a fixed page; ``POST /login`` with a session cookie."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    login = scope["method"] == "POST" and scope["path"] == "/login"
    headers = [(b"content-type", b"text/html"), (b"set-cookie", b"csrftoken=bare; Path=/")]
    if login:
        headers += [(b"location", b"/"), (b"set-cookie", b"session=bare; Path=/")]
    await send({"type": "http.response.start", "status": 303 if login else 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"<!doctype html><p>" + b"x" * 4000})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_bare() -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "load:bare_app", "--app-dir", str(HERE),
                                "--port", str(port), "--log-level", "warning", "--no-access-log"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"http://127.0.0.1:{port}"
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the bare server did not start")


# --- memory ---------------------------------------------------------------------------------------

def server_pids(server: ServerProcess) -> list[int]:
    """The server process and its workers."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return [server.pid, *(int(pid) for pid in children.read_text().split())] if children.exists() else [server.pid]


def resident_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total / 1024


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least squares slope of (seconds, MB), in MB per minute."""
    if len(samples) < 2:
        return math.nan
    mean_t = sum(t for t, _ in samples) / len(samples)
    mean_m = sum(m for _, m in samples) / len(samples)
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    return 60 * sum((t - mean_t) * (m - mean_m) for t, m in samples) / spread if spread else math.nan


# --- one configuration ----------------------------------------------------------------------------

async def watch_and_change(server: ServerProcess, conference, pages: int, changes: int, every: float,
                           load_started: asyncio.Event) -> tuple[list[float], int]:
    """Open the live pages, then make ``changes`` changes ``every`` seconds once the load runs:
    the latencies to the last page, and how many pages missed a change."""
    people = [Person(server, name) for name in conference.usernames[:pages + 1]]
    receivers: list[Receiver] = []
    tasks = []
    try:
        for person in people:
            await person.login(PASSWORD)
        for person in people[1:]:
            cookies = "; ".join(f"{name}={value}" for name, value in person.http.cookies.items())
            socket_ = await open_socket(server.ws_url(f"/conferences/{conference.id}/live"), "deflate",
                                        origin=server.base_url, additional_headers={"Cookie": cookies})
            receiver = Receiver(socket_, changes)
            receivers.append(receiver)
            tasks.append(asyncio.create_task(receiver.run()))
            await asyncio.wait_for(receiver.loaded.wait(), WAIT)
        room = Room(receivers, [math.nan] * (changes + 1))
        await load_started.wait()
        await drive([room], action_updater([server], [conference], [people[0].http]), changes, 1 / every)
        missed = sum(1 for receiver in receivers if any(math.isnan(at) for at in receiver.shown_at[1:]))
        return room.latencies_ms(1, changes), missed
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*(r.socket.close() for r in receivers), return_exceptions=True)
        await asyncio.gather(*(p.close() for p in people), return_exceptions=True)


async def sample_memory(pids: list[int], samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    start = time.monotonic()
    while not stop.is_set():
        samples.append((time.monotonic() - start, resident_mb(pids)))
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
        except TimeoutError:
            pass


async def run_configuration(args: argparse.Namespace, users: int, folder: Path) -> dict:
    url = await asyncio.to_thread(fresh_database, args.database_url, folder, f"load-{users}")
    (conference,) = await create_conferences(url, max(users, args.pages) + 1, 1)
    members = members_of(conference, users)
    case_id = await case_of(url, conference.id)
    env = {"LOAD_PEOPLE": ",".join(members), "LOAD_PASSWORD": PASSWORD, "LOAD_CASE_ID": str(case_id),
           "LOAD_CONFERENCE_ID": str(conference.id)}
    changes = max(1, int(args.duration / args.change_every) - 2)
    server = await asyncio.to_thread(start_server, database_url=url, workers=args.workers,
                                     channels_url=args.channels_url or "memory")
    try:
        load_started, stop, samples = asyncio.Event(), asyncio.Event(), []
        live = asyncio.create_task(watch_and_change(server, conference, args.pages, changes, args.change_every,
                                                    load_started))
        memory = asyncio.create_task(sample_memory(server_pids(server), samples, stop))
        load_started.set()
        routes = await asyncio.to_thread(run_locust, server.base_url, users, args.duration, env, folder)
        latencies, missed = await live
        stop.set()
        await memory
    finally:
        await asyncio.to_thread(server.stop)
    bare, bare_url = start_bare()
    try:
        floor = await asyncio.to_thread(run_locust, bare_url, users, args.duration, env, folder)
    finally:
        bare.terminate()
        bare.wait()
    return {"users": users, "pages": args.pages, "db": "postgresql" if args.database_url else "sqlite",
            "workers": args.workers, "routes": routes, "bare": floor, "live_changes": changes,
            "live_missed": missed, "live_p99_ms": percentile(latencies, 0.99) if latencies else math.nan,
            "rss_mb": [round(m, 1) for _, m in samples], "rss_mb_per_min": slope_per_minute(samples)}


async def case_of(url: str, conference_id: int) -> int:
    from sqlalchemy import select

    from coordinator.models import AgendaItem
    engine = db.create_engine(url)
    async with db.create_sessionmaker(engine)() as session:
        case_id = (await session.execute(select(AgendaItem.case_id).where(
            AgendaItem.conference_id == conference_id))).scalars().first()
    await engine.dispose()
    return case_id


# --- reporting ------------------------------------------------------------------------------------

def figure(row: dict, column: str) -> float:
    value = row.get(column, "N/A")
    return math.nan if value in ("N/A", "") else float(value)


def report(result: dict) -> str:
    lines = [f"{'route':44} {'requests':>8} {'failures':>8} {'p50':>6} {'p95':>6} {'p99':>6} {'bare_p95':>8}"]
    worst = ("", 0.0)
    for name, row in sorted(result["routes"].items()):
        if name == "Aggregated":
            continue
        bare = result["bare"].get(name, {})
        p95 = figure(row, "95%")
        worst = max(worst, (name, p95), key=lambda pair: pair[1])
        lines.append(f"{name:44} {row['Request Count']:>8} {row['Failure Count']:>8} {figure(row, '50%'):>6.0f} "
                     f"{p95:>6.0f} {figure(row, '99%'):>6.0f} {figure(bare, '95%'):>8.0f}")
    total, floor = result["routes"]["Aggregated"], result["bare"]["Aggregated"]
    samples = result["rss_mb"]
    lines.append(
        f"load users={result['users']} pages={result['pages']} db={result['db']} workers={result['workers']} "
        f"req_s={figure(total, 'Requests/s'):.1f} bare_req_s={figure(floor, 'Requests/s'):.1f} "
        f"failures={total['Failure Count']} worst_p95_ms={worst[0]}:{worst[1]:.0f} "
        f"live_changes={result['live_changes']} live_missed={result['live_missed']} "
        f"live_p99_ms={result['live_p99_ms']:.0f} rss_mb_start={samples[0] if samples else math.nan} "
        f"rss_mb_end={samples[-1] if samples else math.nan} rss_mb_per_min={result['rss_mb_per_min']:.2f}")
    return "\n".join(lines)


def draw(results: list[dict]) -> str:
    """The case page's p95 (ms) and requests per second against users, one line per deployment."""
    width, height, margin = 640, 300, 50
    series: dict[str, list[tuple[int, float, float]]] = {}
    for result in results:
        label = f"{result['db']} ×{result['workers']}"
        series.setdefault(label, []).append((result["users"], figure(result["routes"].get(CASE_PAGE, {}), "95%"),
                                             figure(result["routes"]["Aggregated"], "Requests/s")))
    most_users = max(u for points in series.values() for u, _, _ in points)
    most_ms = max((ms for points in series.values() for _, ms, _ in points if not math.isnan(ms)), default=1)
    most_rps = max((r for points in series.values() for _, _, r in points if not math.isnan(r)), default=1)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width * 2}" height="{height}" font-family="sans-serif"'
             f' font-size="12">']
    for panel, (title, index, most) in enumerate([("case page p95 (ms)", 1, most_ms), ("requests per second", 2, most_rps)]):
        left = panel * width
        parts.append(f'<text x="{left + margin}" y="20">{title} against simulated users (0–{most_users})</text>')
        parts.append(f'<line x1="{left + margin}" y1="{height - margin}" x2="{left + width - 20}" '
                     f'y2="{height - margin}" stroke="black"/><line x1="{left + margin}" y1="30" x2="{left + margin}" '
                     f'y2="{height - margin}" stroke="black"/>')
        parts.append(f'<text x="{left + 5}" y="35">{most:.0f}</text>')
        for colour, (label, points) in zip(colours, sorted(series.items()), strict=False):
            xy = [(left + margin + (width - margin - 20) * users / most_users,
                   height - margin - (height - margin - 30) * values[index - 1] / most)
                  for users, *values in sorted(points) if not math.isnan(values[index - 1])]
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                         + " ".join(f"{x:.0f},{y:.0f}" for x, y in xy) + '"/>')
            for users, (x, y) in zip(sorted(u for u, *_ in points), xy, strict=False):
                parts.append(f'<text x="{x - 8:.0f}" y="{height - margin + 15}">{users}</text>'
                             f'<circle cx="{x:.0f}" cy="{y:.0f}" r="3" fill="{colour}"/>')
        for n, (colour, label) in enumerate(zip(colours, sorted(series), strict=False)):
            parts.append(f'<text x="{left + width - 150}" y="{45 + 15 * n}" fill="{colour}">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load per configuration")
    parser.add_argument("--change-every", type=float, default=3.0, help="seconds between the chair's changes")
    parser.add_argument("--database-url", help="a scratch PostgreSQL database (emptied first)")
    parser.add_argument("--channels-url", help="Redis or PostgreSQL channels, for --workers above 1")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--curve", help="comma-separated numbers of users, one configuration each")
    parser.add_argument("--results", type=Path, help="a JSON file the figures are appended to")
    parser.add_argument("--svg", type=Path, help="draw the results file's curve here")
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text()) if args.results and args.results.exists() else []
    with tempfile.TemporaryDirectory(prefix="coordinator-load-") as folder:
        for users in [int(u) for u in args.curve.split(",")] if args.curve else [args.users]:
            log(f"{users} users, {args.pages} live pages, {args.duration} s")
            result = asyncio.run(run_configuration(args, users, Path(folder)))
            print(report(result), flush=True)
            results = [r for r in results if (r["users"], r["db"], r["workers"]) !=
                       (users, result["db"], result["workers"])] + [result]
            if args.results:
                args.results.write_text(json.dumps(results, indent=1))
    if args.svg:
        args.svg.write_text(draw(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
