"""Actions agreed in a conference: ordinary tasks of the owning agency (source ``conference``),
added by the chair for any agency on the case or by an agency for itself, changed and
confirmed by their owner (or the chair)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, events, policy, tasks
from coordinator.conference.participation import Seat, agenda_case, seat
from coordinator.errors import Conflict, Forbidden, Invalid, NotFound, require_version
from coordinator.models import Task, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.tasks import CLOSED_STATUSES, TaskIn

CONFERENCE_SOURCE = "conference"


@dataclass
class ActionIn:
    case_id: int
    agency: str
    title: str
    domain: str
    due_on: dt.date | None = None
    assignee_id: int | None = None


@dataclass
class ActionStatusIn:
    task_id: int
    status: str
    version: int
    reason: str | None = None


@dataclass
class ActionConfirmIn:
    task_id: int
    version: int


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
    if data.due_on is None:
        raise Invalid("give the action a due date", field="due_on")
    await tasks.assign_task(session, registry, actor, data.case_id,
                            TaskIn(agency=data.agency, title=data.title, domain=data.domain, due_on=data.due_on,
                                   assignee_id=data.assignee_id),
                            source=CONFERENCE_SOURCE, conference_id=conference_id)


async def _action(session: AsyncSession, place: Seat, task_id: int) -> Task:
    """An action of a case on this agenda that the seat may see, locked for the change (this
    conference's or one carried over from an earlier one); anything else is not found."""
    task = (await session.execute(
        select(Task).where(Task.id == task_id).with_for_update().execution_options(populate_existing=True)
    )).scalar()
    if task is None or task.source != CONFERENCE_SOURCE:
        raise NotFound(f"no action {task_id} in this conference")
    try:
        await agenda_case(session, place, task.case_id)
    except (Invalid, Forbidden):
        raise NotFound(f"no action {task_id} in this conference") from None
    return task


async def change_action(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                        data: ActionStatusIn) -> None:
    """The owning agency (or the chair) marks an action done, not applicable, blocked, ..."""
    place = await seat(session, actor, conference_id, live=True)
    task = await _action(session, place, data.task_id)
    policy.require_act_for(place.audience, task.agency, registry.name(task.agency), "change this action")
    await tasks.change_status(session, registry, actor, task.id, status=data.status, version=data.version,
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
    if task.confirmed_at is None:
        task.confirmed_at = utcnow()
        task.version += 1
        await audit.record(session, actor, "action.confirmed", case_id=task.case_id, subject=f"task:{task.id}")
        events.case_changed(session, task.case_id, "tasks")
