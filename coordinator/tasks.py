"""Tasks and actions: each agency completes its own; a coordinator may assign to any agency."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import bindparam, select, update
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from coordinator import audit, duties, events, notifications, policy
from coordinator.cases import (
    DueContext,
    add_listed_tasks,
    agencies_of,
    agencies_on,
    case_facts,
    case_for,
    case_state,
    load_case,
    next_meeting_on,
    task_from,
)
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.gate import consent_in_force
from coordinator.hookspecs import TASK_DOMAINS
from coordinator.limits import Id, Key, OneOf, WrittenLine
from coordinator.models import Case, Consent, ConsentScope, Referral, Task, TaskEvent, User, utcnow
from coordinator.plugins import AgencyRegistry, PluginError
from coordinator.policy import Actor

log = logging.getLogger("coordinator.tasks")

# "not_taken": an action the meeting decided not to take after all (say why), unlike one that no
# longer applies.
STATUSES = ("open", "in_progress", "done", "not_applicable", "not_taken", "blocked")
CLOSED_STATUSES = ("done", "not_applicable", "not_taken")
NEEDS_REASON = ("not_applicable", "not_taken", "blocked")
# The tasks an agency's plugin lists for a case (its task list and standing duties), which follow the case.
LIST_SOURCES = ("agency_list", "standing")
CASE_CHANGED = "not applicable (case changed)"
APPLIES_AGAIN = "applies again (case changed)"
# Built once (every change of status runs it). The version is compared in the UPDATE itself: a
# check in Python would let two changes made on the same view both pass (each process, or SQLite
# snapshot, sees the old version).
_SET_STATUS = (update(Task).where(Task.id == bindparam("task_id"), Task.version == bindparam("seen"))
               .values(status=bindparam("new_status"), reason=bindparam("new_reason"),
                       version=bindparam("new_version"), updated_at=bindparam("changed_at"),
                       fulfilled_by=bindparam("fulfilled_by")))
FULFILLING_REFERRALS = ("sent", "accepted", "completed")


async def fulfilment(session: AsyncSession, case_id: int, needs: str) -> str | None:
    """The referral or consent of hers on the case that fulfils a task needing one, latest first:
    a referral sent on (not a draft, not declined), or a consent with a scope in force."""
    if needs == "referral":
        found = (await session.execute(select(Referral.id).where(
            Referral.case_id == case_id, Referral.status.in_(FULFILLING_REFERRALS)).order_by(Referral.id.desc())
        )).scalar()
        return f"referral:{found}" if found is not None else None
    now = utcnow()
    scopes = (await session.execute(
        select(Consent.id, Consent.given_at, Consent.expires_at, ConsentScope.withdrawn_at)
        .join(ConsentScope, ConsentScope.consent_id == Consent.id).where(Consent.case_id == case_id)
        .order_by(Consent.id.desc()))).all()
    found = next((consent_id for consent_id, *when in scopes if consent_in_force(*when, now)), None)
    return f"consent:{found}" if found is not None else None


@dataclass
class TaskIn:
    agency: Key
    title: WrittenLine(500, "give the task a title")
    domain: OneOf(TASK_DOMAINS)
    due_on: dt.date | None = None
    assignee_id: Id | None = None


def is_overdue(task: Task, today: dt.date) -> bool:
    return task.status not in CLOSED_STATUSES and task.due_on is not None and task.due_on < today


async def task_for(session: AsyncSession, actor: Actor, task_id: int, *, with_history: bool = False) -> Task:
    """The task (with its history if asked), if the actor may see its case; a task on a case the
    actor may not see is answered exactly as a missing one (404), before any other check."""
    query = select(Task).where(Task.id == task_id).execution_options(populate_existing=True)
    if with_history:
        query = query.options(selectinload(Task.history))
    task = (await session.execute(query)).scalar()
    if task is None:
        raise NotFound(f"no task {task_id}")
    policy.require_case_visible(actor, await agencies_on(session, task.case_id), f"task {task_id}")
    return task


def _changed_meanwhile(task: Task) -> Conflict:
    return Conflict(
        f"this task was changed by someone else (now {task.status.replace('_', ' ')}, version {task.version}): "
        "the current state is shown, check it and try again", field="version",
    )


async def change_status(
    session: AsyncSession, registry: AgencyRegistry, actor: Actor, task_id: int, *,
    status: str, version: int, reason: str | None = None,
) -> Task:
    """Move a task to ``status``. Only the owning agency or a coordinator may; ``version`` must
    be the one the actor saw, or the change is refused (someone else changed it first)."""
    task = await task_for(session, actor, task_id)
    return await set_status(session, registry, actor, task, status=status, version=version, reason=reason)


async def set_status(
    session: AsyncSession, registry: AgencyRegistry, actor: Actor, task: Task, *,
    status: str, version: int, reason: str | None = None,
) -> Task:
    """``change_status`` of a task the caller has already read and found the actor may see (a
    live action, read with its conference's checks): it is not read again."""
    if status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}", field="status")
    policy.require_task_change(actor, await case_state(session, task.case_id), task.agency, registry.name(task.agency))
    if task.version != version:
        raise _changed_meanwhile(task)
    reason = (reason or "").strip() or None
    if status in NEEDS_REASON and reason is None:
        raise Invalid(f"say why the task is {status.replace('_', ' ')}", field="reason")
    fulfilled_by = None
    if status == "done" and task.needs is not None:
        fulfilled_by = policy.require_fulfilment(task.title, task.needs,
                                                 await fulfilment(session, task.case_id, task.needs))
    changed = await session.execute(_SET_STATUS, {"task_id": task.id, "seen": version, "new_status": status,
                                                  "new_reason": reason, "new_version": version + 1,
                                                  "changed_at": utcnow(), "fulfilled_by": fulfilled_by})
    if changed.rowcount != 1:
        await session.refresh(task)
        raise _changed_meanwhile(task)
    session.add(TaskEvent(task_id=task.id, by_id=actor.id, status=status, reason=reason))
    await audit.record(session, actor, "task.status_changed", case_id=task.case_id, subject=f"task:{task.id}",
                       status=status, **({"fulfilled_by": fulfilled_by} if fulfilled_by else {}))
    events.case_changed(session, task.case_id, "tasks")
    return task


async def give_task(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                    task_in: TaskIn) -> Task:
    """A coordinator gives an agency an extra task on a case, with a due date."""
    policy.require_task_giver(actor, await case_for(session, actor, case_id))  # 404 first for a case not seen
    return await assign_task(session, registry, actor, case_id, task_in, source="coordinator")


async def assign_task(
    session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int, task_in: TaskIn, *,
    source: str, conference_id: int | None = None,
) -> Task:
    """A new task of an agency on an open case, from ``source``: the caller has applied the rule
    of that source (``give_task``, a conference's action, a plan's item, a follow-up's outcome)."""
    case = await load_case(session, case_id)
    policy.require_open(case)
    if task_in.agency not in registry:
        raise Invalid(f"no agency {task_in.agency!r} is installed", field="agency")
    if not any(a.agency == task_in.agency for a in case.agencies):
        raise Invalid(f"{registry.name(task_in.agency)} is not part of case {case.reference}: add it first", field="agency")
    title = task_in.title.strip()
    if not title:
        raise Invalid("give the task a title", field="title")
    if len(title) > 500:
        raise Invalid("the title is longer than 500 characters", field="title")
    if task_in.domain not in TASK_DOMAINS:
        raise Invalid(f"domain must be one of {', '.join(TASK_DOMAINS)}", field="domain")
    if task_in.assignee_id is not None:
        assignee = await session.get(User, task_in.assignee_id)
        if assignee is None or assignee.agency != task_in.agency:
            raise Invalid(f"the assignee must be a person of {registry.name(task_in.agency)}", field="assignee_id")
    task = Task(case_id=case.id, agency=task_in.agency, title=title, domain=task_in.domain, due_on=task_in.due_on,
                assignee_id=task_in.assignee_id, source=source, conference_id=conference_id, created_by_id=actor.id,
                history=[TaskEvent(by_id=actor.id, status="open")])
    session.add(task)
    await session.flush()
    await audit.record(session, actor, "task.assigned", case_id=case.id, subject=f"task:{task.id}",
                       agency=task.agency, due_on=task.due_on, source=source)
    notice = notifications.case_notice("action_assigned", f"task:{task.id}:assigned", case.id, case.reference)
    if task.assignee_id is None:
        await notifications.notify(session, notice, agencies=[task.agency], not_to=actor.id)
    else:
        await notifications.notify(session, notice, users=[task.assignee_id], not_to=actor.id)
    events.case_changed(session, case.id, "tasks")
    return task


def _overdue_first(today: dt.date):
    """Overdue first, then by due date (undated last), then oldest first."""
    overdue = sql_case((Task.due_on < today, 0), else_=1)
    undated = sql_case((Task.due_on.is_(None), 1), else_=0)
    return (overdue, undated, Task.due_on, Task.id)


async def case_tasks(session: AsyncSession, case_id: int, today: dt.date) -> list[Task]:
    return list((await session.execute(
        select(Task).where(Task.case_id == case_id).order_by(Task.agency, *_overdue_first(today))
    )).scalars())


async def open_tasks_for_agency(session: AsyncSession, agency: str | None, today: dt.date, limit: int = 200) -> list[Task]:
    """The agency's tasks still to do across its cases, overdue first."""
    return list((await session.execute(
        select(Task).join(Case, Case.id == Task.case_id)
        .where(Task.agency == agency, Task.status.not_in(CLOSED_STATUSES), Case.closed_at.is_(None))
        .order_by(*_overdue_first(today)).limit(limit)
    )).scalars())


@dataclass(frozen=True)
class CaseWork:
    """One case's tasks in a work list, with the case reference people recognise it by."""

    case_id: int
    reference: str
    agency: str
    tasks: list[Task]
    closed_at: dt.datetime | None = None  # work lists hold open cases only (the rules read the case's state from here)

    @property
    def to_sign_off(self) -> int:
        """The open tasks an agency's sign-off would mark (standing duties stay open)."""
        return sum(1 for task in self.tasks if task.source != "standing")


async def due_work(session: AsyncSession, today: dt.date, *, agency: str | None = None, overdue_only: bool = False,
                   limit: int = 500) -> list[CaseWork]:
    """Open tasks grouped by agency and case, overdue first, then by due date: one agency's work
    list, or (``overdue_only``) every agency's overdue work for a coordinator."""
    query = (select(Task, Case.reference).join(Case, Case.id == Task.case_id)
             .where(Task.status.not_in(CLOSED_STATUSES), Case.closed_at.is_(None))
             .order_by(Task.agency, Case.id, *_overdue_first(today)).limit(limit))
    if agency is not None:
        query = query.where(Task.agency == agency)
    if overdue_only:
        query = query.where(Task.due_on < today)
    groups: dict[tuple[str, int], CaseWork] = {}
    for task, reference in (await session.execute(query)).all():
        key = (task.agency, task.case_id)
        if key not in groups:
            groups[key] = CaseWork(task.case_id, reference, task.agency, [])
        groups[key].tasks.append(task)
    return list(groups.values())


def _list_key(agency: str, title: str, duty: str | None) -> tuple[str, str]:
    """What identifies a listed task on a case: a shared duty by its key (one per case, whoever
    holds it), any other by the listing agency and its title."""
    return ("duty", duty) if duty is not None else (agency, title)


async def _set_listed_status(session: AsyncSession, actor: Actor, task: Task, status: str, reason: str | None) -> None:
    await session.execute(update(Task).where(Task.id == task.id).values(
        status=status, reason=reason, version=Task.version + 1, updated_at=utcnow()))
    session.add(TaskEvent(task_id=task.id, by_id=actor.id, status=status, reason=reason))


async def follow_case(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int) -> None:
    """Evaluate every agency's task list again for the case as it now stands (called by every
    change to what the plugins are told of a case: people, key dates, risk, information recorded).

    A task the list now asks for is added once; a task it no longer asks for is marked
    "not applicable (case changed)" while still open (done work stays done) and never deleted, and
    is opened again if the case changes back. An agency whose plugin fails keeps its list as it is."""
    await session.flush()
    case = await load_case(session, case_id)
    facts = await case_facts(session, case)
    listed = list((await session.execute(
        select(Task).where(Task.case_id == case.id, Task.source.in_(LIST_SOURCES))
        .execution_options(populate_existing=True))).scalars())
    have = {_list_key(t.agency, t.title, t.duty): t for t in listed}
    wanted: set[tuple[str, str]] = set()
    unanswered: set[str] = set()
    added, retired, reopened = [], [], []
    due: DueContext | None = None
    for agency in agencies_of(case):
        try:
            templates = registry.task_list(agency, facts)
        except PluginError as failure:
            log.error("%s; its task list was left as it is", failure, exc_info=failure)
            await audit.record(session, actor, "plugin.failed", case_id=case.id, subject=f"case:{case.id}",
                               plugin=failure.plugin, hook=failure.hook, error=failure.error)
            unanswered.add(agency)
            continue
        for template in templates:
            key = _list_key(agency, template.title, template.duty)
            wanted.add(key)
            task = have.get(key)
            if task is None:
                # Read once, and only when a task is added: follow_case runs on every case change.
                due = due or DueContext(case.created_at, await next_meeting_on(session, case.id))
                have[key] = task_from(case.id, agency, template, "agency_list", actor, due)
                added.append(have[key])
            elif task.status == "not_applicable" and task.reason == CASE_CHANGED:
                await _set_listed_status(session, actor, task, "open", APPLIES_AGAIN)
                reopened.append(task)
    for task in listed:
        listing = registry.duty_carriers(task.duty) if task.duty is not None else [task.agency]
        if (_list_key(task.agency, task.title, task.duty) not in wanted and not (unanswered & set(listing))
                and task.status not in CLOSED_STATUSES):
            await _set_listed_status(session, actor, task, "not_applicable", CASE_CHANGED)
            retired.append(task)
    if not (added or retired or reopened):
        return
    added = await add_listed_tasks(session, added)
    await duties.settle(session, registry, actor, case.id)
    await audit.record(session, actor, "task.list_followed", case_id=case.id, subject=f"case:{case.id}",
                       added=[t.id for t in added], not_applicable=[t.id for t in retired],
                       reopened=[t.id for t in reopened])
    events.case_changed(session, case.id, "tasks")
