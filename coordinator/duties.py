"""Shared duties: a duty several agencies' lists carry "if it does not belong to another agency"
(child protection, the "*" duties of the to-do lists) is one task per case with one holder.

The holder follows the role map: the agency on the case that holds the duty's responsibility;
while nobody does, the agency the plugins name as the duty's fallback (if on the case), else the
first agency on the case to list it. ``settle`` moves each open shared duty to its holder and is
called whenever the answer can change: an agency joins, a role is assigned or confirmed.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, events
from coordinator.models import CaseAgency, RoleAssignment, Task, TaskEvent, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

DONE = ("done", "not_applicable", "not_taken")  # tasks.CLOSED_STATUSES (tasks imports this module)


def holder(registry: AgencyRegistry, duty: str, on_case: list[str], roles: dict[str, str], listed_by: str) -> str:
    """Who holds ``duty`` on a case with these agencies and this role map (responsibility -> agency)."""
    responsible = roles.get(registry.shared_duty(duty).responsibility)
    if responsible in on_case:
        return responsible
    fallback = registry.duty_fallback(duty)
    if fallback in on_case:
        return fallback
    return listed_by


async def settle(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int) -> list[Task]:
    """Give each open shared duty of the case to its holder; returns the tasks that moved."""
    duties = list((await session.execute(
        select(Task).where(Task.case_id == case_id, Task.duty.is_not(None), Task.status.not_in(DONE))
        .execution_options(populate_existing=True)
    )).scalars())
    if not duties:
        return []
    on_case = list((await session.execute(
        select(CaseAgency.agency).where(CaseAgency.case_id == case_id).order_by(CaseAgency.id))).scalars())
    roles = dict((await session.execute(
        select(RoleAssignment.responsibility, RoleAssignment.agency).where(
            RoleAssignment.case_id == case_id, RoleAssignment.ended_at.is_(None),
            RoleAssignment.status == "confirmed"))).all())
    moved = []
    for task in duties:
        listed_by = next((a for a in on_case if a in registry.duty_carriers(task.duty)), task.agency)
        new_holder = holder(registry, task.duty, on_case, roles, listed_by)
        if new_holder == task.agency:
            continue
        previous = task.agency
        await session.execute(update(Task).where(Task.id == task.id).values(
            agency=new_holder, version=Task.version + 1, updated_at=utcnow()))
        session.add(TaskEvent(task_id=task.id, by_id=actor.id, status=task.status,
                              reason=f"shared duty moved from {registry.name(previous)} to {registry.name(new_holder)}"))
        await audit.record(session, actor, "task.duty_moved", case_id=case_id, subject=f"task:{task.id}",
                           duty=task.duty, previous=previous, holder=new_holder)
        moved.append(task)
    if moved:
        events.case_changed(session, case_id, "tasks")
    return moved


async def take_default_roles(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                             agency: str) -> list[str]:
    """``agency`` has just joined the case: it takes the responsibilities it holds by default that
    nobody holds on the case yet (it never displaces a holder). Returns the responsibilities taken."""
    defaults = [r.key for r in registry.get(agency).responsibilities if r.by_default]
    held = set((await session.execute(select(RoleAssignment.responsibility).where(
        RoleAssignment.case_id == case_id, RoleAssignment.ended_at.is_(None)))).scalars())
    taken = [key for key in defaults if key not in held]
    for key in taken:
        assignment = RoleAssignment(case_id=case_id, responsibility=key, agency=agency, status="confirmed",
                                    assigned_by_id=actor.id)
        session.add(assignment)
        await session.flush()
        await audit.record(session, actor, "role.assigned", case_id=case_id, subject=f"role:{assignment.id}",
                           responsibility=key, agency=agency, person_id=None, previous=None, by_default=True)
    if taken:
        events.case_changed(session, case_id, "roles")
    return taken


def held_elsewhere(registry: AgencyRegistry, tasks: list[Task], agency: str) -> list[Task]:
    """The shared duties ``agency``'s list carries that another agency holds on this case."""
    carried = {d.key for d in registry.get(agency).shared_duties} if agency in registry else set()
    return [t for t in tasks if t.duty in carried and t.agency != agency]
