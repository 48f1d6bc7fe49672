"""Actions agreed in a conference: ordinary tasks of the owning agency (source ``conference``),
added by the chair for any agency on the case or by an agency for itself, changed and
confirmed by their owner (or the chair)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated

from msgspec import Meta
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, events, policy, tasks
from coordinator.conference.participation import Seat, agenda_case, seat
from coordinator.errors import Conflict, NotFound, require_version
from coordinator.limits import Count, Id, Key, OneOf, Text, WrittenLine
from coordinator.models import AgendaItem, CaseAgency, Task, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.tasks import CLOSED_STATUSES, TaskIn

CONFERENCE_SOURCE = "conference"


@dataclass
class ActionIn:
    case_id: Id
    agency: Key
    title: WrittenLine(500, "give the task a title")
    domain: OneOf(tasks.TASK_DOMAINS)
    due_on: Annotated[dt.date, Meta(description="give the action a due date")]
    assignee_id: Id | None = None


@dataclass
class ActionStatusIn:
    task_id: Id
    status: OneOf(tasks.STATUSES)
    version: Count
    reason: Text() | None = None


@dataclass
class ActionConfirmIn:
    task_id: Id
    version: Count


def carried_over(conference_id: int):  # noqa: ANN201 (a SQL condition)
    """Actions agreed in an earlier conference and still incomplete: they come back on the agenda."""
    return ((Task.source == CONFERENCE_SOURCE) & (Task.conference_id != conference_id)
            & Task.status.not_in(CLOSED_STATUSES))


async def add_action(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                     data: ActionIn) -> None:
    """The chair (for any agency on the case) or a representative (for their own) adds a timed
    action. It is a task of the owning agency, so it is on that agency's task list too."""
    place = await seat(session, actor, conference_id, live=True)
    await agenda_case(session, place, data.case_id)
    policy.require_act_for(place.audience, data.agency, registry.name(data.agency), "add actions for it")
    await tasks.assign_task(session, registry, actor, data.case_id,
                            TaskIn(agency=data.agency, title=data.title, domain=data.domain, due_on=data.due_on,
                                   assignee_id=data.assignee_id),
                            source=CONFERENCE_SOURCE, conference_id=conference_id)


# Built once (every change to an action runs it): the action, its case's line on this agenda, the
# case's agencies.
_ACTION = (select(Task, CaseAgency.agency)
           .join(AgendaItem, (AgendaItem.case_id == Task.case_id) & (AgendaItem.conference_id == bindparam("conference_id")))
           .outerjoin(CaseAgency, CaseAgency.case_id == Task.case_id)
           .where(Task.id == bindparam("task_id"), Task.source == CONFERENCE_SOURCE)
           .execution_options(populate_existing=True))


async def _action(session: AsyncSession, place: Seat, task_id: int) -> Task:
    """An action of a case on this agenda that the seat may see (this conference's or one
    carried over from an earlier one); anything else is not found. One statement: the action,
    its case's agenda line here and the case's agencies. Changes compare the version in their
    UPDATE, so no lock is taken here."""
    rows = (await session.execute(_ACTION, {"conference_id": place.conference.id, "task_id": task_id})).all()
    if not rows or not policy.may_see_agenda_case(place.audience, [agency for _, agency in rows if agency]):
        raise NotFound(f"no action {task_id} in this conference")
    return rows[0][0]


async def change_action(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                        data: ActionStatusIn) -> None:
    """The owning agency (or the chair) marks an action done, not applicable, blocked, ..."""
    place = await seat(session, actor, conference_id, live=True)
    task = await _action(session, place, data.task_id)
    policy.require_act_for(place.audience, task.agency, registry.name(task.agency), "change this action")
    await tasks.set_status(session, registry, actor, task, status=data.status, version=data.version,
                           reason=data.reason)


async def confirm_action(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                         data: ActionConfirmIn) -> None:
    """The owning agency confirms an action agreed in this conference (the chair may for an
    agency not in the room)."""
    place = await seat(session, actor, conference_id, live=True)
    task = await _action(session, place, data.task_id)
    if task.conference_id != conference_id:
        raise Conflict("that action was agreed in an earlier conference")
    policy.require_act_for(place.audience, task.agency, registry.name(task.agency), "confirm this action")
    require_version(task.version, data.version, "the action")
    if task.confirmed_at is not None:
        return  # confirmed already: confirming again changes nothing
    # Compared in the UPDATE, so of two confirmations made on the same view exactly one counts.
    confirmed = await session.execute(
        update(Task).where(Task.id == task.id, Task.version == data.version, Task.confirmed_at.is_(None))
        .values(confirmed_at=utcnow(), version=data.version + 1))
    if confirmed.rowcount != 1:  # changed or confirmed meanwhile: either moved the version on
        await session.refresh(task)
        require_version(task.version, data.version, "the action")
    await audit.record(session, actor, "action.confirmed", case_id=task.case_id, subject=f"task:{task.id}")
    events.case_changed(session, task.case_id, "tasks")
