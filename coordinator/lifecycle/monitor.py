"""The monitor: raises the case events that dates bring, once each.

- a release from custody or a hearing within ``near_days`` (``key_date_near``);
- a key date's anniversary: relationship start and end, an order served, a birthday, any
  anniversary (``anniversary``, every year);
- a follow-up due today, or past with no outcome (``follow_up_due``, ``follow_up_missed``);
- a task past its due date while still to do (``task_overdue``);
- a safety plan past its review-by date with no newer version (``safety_plan_review_due``);
- a threat-assessment case in long-term monitoring at its review date (``monitoring_review_due``);
- a threat-assessment report not screened by the time the team sets (``screening_overdue``).

Each event is keyed by case, event, subject and date (``case_events``): two processes scanning
at once, or a run repeated after a restart, raise nothing twice. Anniversaries are scanned from
the day after the last completed run, so days the monitor was down are caught up on. It runs
inside ``coordinator serve`` (every ``COORDINATOR_MONITOR_SECONDS``) and as
``coordinator monitor --once`` for cron.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coordinator import cases, notifications
from coordinator.cases import NEAR_KINDS, RECURRING_KINDS
from coordinator.lifecycle import case_events
from coordinator.models import Case, FollowUp, InformationItem, KeyDate, MonitorRun, Task, ThreatScreening, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.tasks import CLOSED_STATUSES

log = logging.getLogger("coordinator.lifecycle.monitor")
SAFETY_PLAN = "case.safety_plan"
# On its first run the monitor looks back this far for anniversaries it may have missed.
FIRST_LOOK_BACK_DAYS = 7


@dataclass(frozen=True)
class Due:
    """One event a date brings: raised unless (case, event, subject, on) was raised before."""

    case_id: int
    event: str
    subject: str
    on: dt.date
    arguments: tuple[tuple[str, object], ...] = ()


def anniversaries(on: dt.date, since: dt.date, today: dt.date) -> list[tuple[dt.date, int]]:
    """The yearly recurrences of ``on`` in (since, today], with the years since (29 February
    recurs on 28 February in other years)."""
    found = []
    for year in range(since.year, today.year + 1):
        try:
            day = on.replace(year=year)
        except ValueError:
            day = dt.date(year, 2, 28)
        if since < day <= today and year > on.year:
            found.append((day, year - on.year))
    return found


async def _key_dates(session: AsyncSession, since: dt.date, today: dt.date, near_days: int) -> list[Due]:
    rows = (await session.execute(
        select(KeyDate).join(Case, Case.id == KeyDate.case_id).where(Case.closed_at.is_(None)))).scalars()
    due = []
    for key_date in rows:
        if key_date.kind in NEAR_KINDS and today <= key_date.on <= today + dt.timedelta(days=near_days):
            due.append(Due(key_date.case_id, "key_date_near", f"key_date:{key_date.id}", key_date.on,
                           (("kind", key_date.kind), ("on", key_date.on),
                            ("days_before", (key_date.on - today).days))))
        if key_date.kind in RECURRING_KINDS:
            due += [Due(key_date.case_id, "anniversary", f"key_date:{key_date.id}", day,
                        (("kind", key_date.kind), ("on", key_date.on), ("years", years)))
                    for day, years in anniversaries(key_date.on, since, today)]
    return due


async def _follow_ups(session: AsyncSession, today: dt.date) -> list[Due]:
    rows = (await session.execute(
        select(FollowUp).join(Case, Case.id == FollowUp.case_id)
        .where(Case.closed_at.is_(None), FollowUp.outcome.is_(None), FollowUp.planned_on <= today))).scalars()
    return [Due(f.case_id, "follow_up_due" if f.planned_on == today else "follow_up_missed", f"follow_up:{f.id}",
                f.planned_on, (("agency", f.agency), ("planned_on", f.planned_on))) for f in rows]


async def _overdue_tasks(session: AsyncSession, today: dt.date) -> list[Due]:
    rows = (await session.execute(
        select(Task).join(Case, Case.id == Task.case_id)
        .where(Case.closed_at.is_(None), Task.status.not_in(CLOSED_STATUSES), Task.due_on < today))).scalars()
    return [Due(t.case_id, "task_overdue", f"task:{t.id}", t.due_on,
                (("agency", t.agency), ("title", t.title), ("due_on", t.due_on))) for t in rows]


async def _plan_reviews(session: AsyncSession, today: dt.date) -> list[Due]:
    rows = (await session.execute(
        select(InformationItem.id, InformationItem.case_id, InformationItem.review_on)
        .join(Case, Case.id == InformationItem.case_id)
        .where(Case.closed_at.is_(None), InformationItem.category == SAFETY_PLAN,
               InformationItem.superseded.is_(False), InformationItem.review_on < today))).all()
    return [Due(case_id, "safety_plan_review_due", f"item:{item_id}", review_on, (("review_on", review_on),))
            for item_id, case_id, review_on in rows]


async def _monitoring_reviews(session: AsyncSession, today: dt.date) -> list[Due]:
    rows = (await session.execute(
        select(Case.id, Case.monitoring_review_on).where(
            Case.closed_at.is_(None), Case.monitoring_status == "long_term", Case.monitoring_review_on <= today))).all()
    return [Due(case_id, "monitoring_review_due", "monitoring", review_on, (("review_on", review_on),))
            for case_id, review_on in rows]


async def _overdue_screenings(session: AsyncSession, now: dt.datetime) -> list[Due]:
    screened = select(ThreatScreening.id).where(ThreatScreening.case_id == Case.id)
    rows = (await session.execute(
        select(Case.id, Case.reported_at, Case.screening_due_at).where(
            Case.closed_at.is_(None), Case.screening_due_at < now, ~exists(screened)))).all()
    return [Due(case_id, "screening_overdue", "screening", due_at.date(),
                (("reported_at", reported_at), ("due_at", due_at))) for case_id, reported_at, due_at in rows]


async def last_run(session: AsyncSession) -> dt.date | None:
    return (await session.execute(select(func.max(MonitorRun.ran_on)))).scalar()


async def due_events(session: AsyncSession, today: dt.date, near_days: int, now: dt.datetime) -> list[Due]:
    since = await last_run(session) or today - dt.timedelta(days=FIRST_LOOK_BACK_DAYS)
    return [*await _key_dates(session, min(since, today - dt.timedelta(days=1)), today, near_days),
            *await _follow_ups(session, today), *await _overdue_tasks(session, today), *await _plan_reviews(session, today),
            *await _monitoring_reviews(session, today), *await _overdue_screenings(session, now)]


async def raise_due(session: AsyncSession, registry: AgencyRegistry, case_id: int, due: list[Due]) -> int:
    """Raise one case's due events in the caller's transaction; the number not raised before."""
    case = await cases.load_case(session, case_id)
    raised = 0
    for item in due:
        if await case_events.raise_event(session, registry, None, case, item.event, subject=item.subject,
                                         occurs_on=item.on, **dict(item.arguments)):
            raised += 1
            if item.event == "task_overdue":
                await notifications.notify(session, notifications.case_notice(
                    "action_overdue", f"{item.subject}:overdue:{item.on}", case.id, case.reference),
                    agencies=[dict(item.arguments)["agency"]])
    return raised


async def run_once(sessionmaker: async_sessionmaker[AsyncSession], registry: AgencyRegistry, today: dt.date,
                   near_days: int, now: dt.datetime | None = None) -> int:
    """Raise every event due by ``today`` (a screening due by ``now``, the present by default) that was not
    raised before; the number raised. Each case's events commit on their own, so a failure on one case does
    not hold back the others."""
    async with sessionmaker() as session:
        due = await due_events(session, today, near_days, now or utcnow())
    raised = 0
    for case_id in dict.fromkeys(d.case_id for d in due):
        async with sessionmaker() as session:
            raised += await raise_due(session, registry, case_id, [d for d in due if d.case_id == case_id])
            await session.commit()
    async with sessionmaker() as session:
        session.add(MonitorRun(ran_on=today))
        await session.commit()
    return raised


async def run_forever(sessionmaker: async_sessionmaker[AsyncSession], registry: AgencyRegistry, near_days: int,
                      period_seconds: int, counted: Callable[[bool], None]) -> None:
    """The monitor inside the server: a run at start-up (catching up), then every period; each
    run is ``counted`` (True when it succeeded)."""
    while True:
        try:
            raised = await run_once(sessionmaker, registry, utcnow().date(), near_days)
            if raised:
                log.info("monitor raised %d case events", raised)
            counted(True)
        except Exception:  # the next period tries again; a failed run is not marked done
            log.exception("the monitor run failed")
            counted(False)
        await asyncio.sleep(period_seconds)
