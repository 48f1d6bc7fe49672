"""The monitor as cron runs it: two `coordinator monitor --once` processes started at the same
moment on one PostgreSQL database raise each event exactly once, and a later run raises nothing
new (the database's unique key decides, and it survives the processes)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from sqlalchemy import func, select

from coordinator import cases
from coordinator.cases import KeyDateIn, PersonIn, ReferralIn
from coordinator.models import RaisedEvent, Task
from coordinator.policy import Actor
from coordinator.settings import ReferralThresholds
from tests.live.server import ROOT, server_env
from tests.live.test_two_servers import two_processes


def monitor_once(url: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "coordinator.cli", "monitor", "--once"], cwd=ROOT,
                            env=server_env(database_url=url), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@two_processes
async def test_two_monitor_processes_at_once_raise_each_event_exactly_once(database_url, sessionmaker, registry,
                                                                          make_user):
    chair = await make_user("chair", "social_work", "coordinator")
    today = dt.date.today()
    async with sessionmaker() as session:
        for _ in range(3):
            case = await cases.create_case(
                session, registry, ReferralThresholds(), Actor(chair.id, chair.agency, chair.role),
                ReferralIn(kind="domestic_abuse", people=[PersonIn("survivor", "Nora")], checklist_score=15,
                           agencies=["police", "social_work"],
                           key_dates=[KeyDateIn("release_from_custody", today + dt.timedelta(days=5))]),
                today)
            await session.flush()
            session.add(Task(case_id=case.id, agency="police", title="Visit", domain="victim", source="coordinator",
                             due_on=today - dt.timedelta(days=1)))
        await session.commit()

    runs = [monitor_once(database_url), monitor_once(database_url)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    raised = sorted(int(out.split()[1]) for out, _ in outputs)
    assert sum(raised) == 6, outputs  # 3 releases near + 3 overdue tasks, shared between the two runs

    again = monitor_once(database_url)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0 and out.strip() == "raised 0 case events", out + err
    async with sessionmaker() as session:
        rows = (await session.execute(select(RaisedEvent.event, func.count()).group_by(RaisedEvent.event))).all()
    assert sorted(rows) == [("key_date_near", 3), ("task_overdue", 3)]
