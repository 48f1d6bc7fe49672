"""What a case with a long history costs to open: the workspace's pages against the same sections
rendered with every row (what the single case page rendered before the workspace), measured in the
same run on the same case.

    python bench/case_page.py [--repetitions 40]

Builds a throw-away SQLite database with one case of three agencies that has 500 follow-ups,
2,000 task events, 300 revisions of its record and 300 raised events, and a coordinator reading it
through the app (HTTP, the gate, the templates). Then, interleaved:

- workspace: the case's first page, its follow-ups section and its history section (20 rows each);
- everything: every section with all its rows (``?shown=2000``), one after another.

Prints p50 and p99 of each and, last, ``case page ratio=<everything / workspace follow-ups p50>``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from coordinator import accounts, cases, db
from coordinator.accounts import actor_of
from coordinator.app import create_app, sync_plugins_into_database
from coordinator.cases import PersonIn, ReferralIn
from coordinator.models import CaseRevision, FollowUp, RaisedEvent, Task, TaskEvent, utcnow
from coordinator.plugins import load_agencies
from coordinator.settings import ReferralThresholds, Settings

PASSWORD = "bench password 1"
FOLLOW_UPS, TASK_EVENTS, REVISIONS, RAISED = 500, 2_000, 300, 300


async def build_case(sessionmaker, registry) -> int:  # noqa: ANN001
    today = utcnow().date()
    async with sessionmaker() as session:
        chair = await accounts.create_user(session, username="chair", agency="social_work", role="coordinator",
                                           password=PASSWORD, agencies=registry.keys)
        case = await cases.create_case(session, registry, ReferralThresholds(), actor_of(chair), ReferralIn(
            kind="domestic_abuse", people=[PersonIn("survivor", "Nora"), PersonIn("child", "Ella")],
            checklist_score=16, agencies=["police", "social_work", "health"], lead_agency="social_work"), today)
        task_ids = (await session.execute(select(Task.id).where(Task.case_id == case.id))).scalars().all()
        await session.execute(insert(FollowUp), [
            {"case_id": case.id, "agency": "police", "planned_on": today - dt.timedelta(days=n), "method": "phone",
             "safe_to_call": True, "outcome": "reached", "attempted_on": today - dt.timedelta(days=n),
             "created_by_id": chair.id} for n in range(FOLLOW_UPS)])
        await session.execute(insert(TaskEvent), [
            {"task_id": task_ids[n % len(task_ids)], "by_id": chair.id, "status": "in_progress",
             "reason": f"note {n}"} for n in range(TASK_EVENTS)])
        await session.execute(insert(CaseRevision), [
            {"case_id": case.id, "version": 1_000 + n, "kind": "edit", "reason": f"edit {n}", "changes": "{}",
             "by_id": chair.id} for n in range(REVISIONS)])
        await session.execute(insert(RaisedEvent), [
            {"case_id": case.id, "event": "key_date_near", "subject": f"bench:{n}", "occurs_on": today,
             "note": f"event {n}", "by_id": chair.id} for n in range(RAISED)])
        await session.commit()
        return case.id


async def logged_in(app) -> httpx.AsyncClient:  # noqa: ANN001
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench.local",
                               follow_redirects=True)
    await client.get("/login")
    answer = await client.post("/login", data={"username": "chair", "password": PASSWORD},
                               headers={"x-csrftoken": client.cookies.get("csrftoken", "")})
    assert answer.status_code == 200, answer.text
    return client


async def timed(client: httpx.AsyncClient, urls: list[str]) -> float:
    start = time.perf_counter()
    for url in urls:
        answer = await client.get(url)
        assert answer.status_code == 200, (url, answer.status_code)
    return (time.perf_counter() - start) * 1000


def p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(url: str, repetitions: int) -> float:
    registry = load_agencies()
    engine = db.create_engine(url)
    case_id = await build_case(db.create_sessionmaker(engine), registry)
    await engine.dispose()
    app = create_app(Settings(database_url=url), registry)
    await sync_plugins_into_database(app.state.sessionmaker, registry)  # what start-up does
    client = await logged_in(app)
    try:
        page = (await client.get(f"/cases/{case_id}")).text
        nav = re.search(r'<nav class="section-nav".*?</nav>', page, re.S).group(0)
        sections = re.findall(r'href="(/cases/\d+(?:/[a-z-]+)?)"', nav)
        runs = {
            "first page": [f"/cases/{case_id}"],
            "follow-ups section": [f"/cases/{case_id}/follow-ups"],
            "history section": [f"/cases/{case_id}/history"],
            "every section, every row": [f"{section}?shown=2000" for section in sections],
        }
        for urls in runs.values():  # warm caches and the connection
            await timed(client, urls)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for n in range(repetitions):
            names = list(runs) if n % 2 == 0 else list(reversed(runs))
            for name in names:
                times[name].append(await timed(client, runs[name]))
    finally:
        await client.aclose()
        await app.state.engine.dispose()
    print(f"case: {FOLLOW_UPS} follow-ups, {TASK_EVENTS} task events, {REVISIONS} revisions, {RAISED} events; "
          f"{len(sections)} sections")
    for name, values in times.items():
        print(f"{name}: p50 {statistics.median(values):.1f} ms, p99 {p(values, 0.99):.1f} ms over {repetitions}")
    return statistics.median(times["every section, every row"]) / statistics.median(times["follow-ups section"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=40)
    parser.add_argument("--database-url", help="an empty PostgreSQL database to use instead of a throw-away SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'case_page.db'}"
        db.migrate(url)
        ratio = asyncio.run(run(url, args.repetitions))
    print(f"case page ratio={ratio:.2f}")


if __name__ == "__main__":
    main()
