"""The case header, above every section: reference, risk, stage, lead, the next meeting, and what
needs doing now for the reader (each a link to the section where it is done)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from coordinator import policy, tasks
from coordinator.lifecycle import closure, team_roles
from coordinator.models import AgendaItem, Conference, Task, utcnow
from coordinator.web.sections.section import Reader

# The case changes that can alter the header.
PARTS = frozenset({"case", "agencies", "roles", "tasks", "follow_ups", "events"})


@dataclass(frozen=True)
class Need:
    text: str
    section: str
    urgent: bool = False


async def load(reader: Reader) -> dict:
    db, actor, case = reader.db, reader.actor, reader.case
    meeting = (await db.execute(
        select(Conference.id, Conference.title, Conference.scheduled_at).join(AgendaItem)
        .where(AgendaItem.case_id == case.id, Conference.status != "ended", Conference.scheduled_at >= utcnow())
        .order_by(Conference.scheduled_at).limit(1))).first()
    needs: list[Need] = []
    if actor.agency is not None and case.closed_at is None:
        open_count, overdue = (await db.execute(
            select(func.count(), func.count().filter(Task.due_on < reader.today))
            .where(Task.case_id == case.id, Task.agency == actor.agency, Task.status.not_in(tasks.CLOSED_STATUSES),
                   Task.source != "standing"))).one()
        if overdue:
            needs.append(Need(f"{overdue} overdue task{'s' if overdue != 1 else ''} for your agency", "tasks", True))
        elif open_count:
            needs.append(Need(f"{open_count} open task{'s' if open_count != 1 else ''} for your agency", "tasks"))
    pending = await closure.pending(db, case.id) if case.closed_at is None else None
    if pending is not None:
        lead = await team_roles.lead_id(db, case.id)
        if policy.Permissions(actor).decide_closure(pending, lead):
            who = "you decide it"
        else:
            who = "the team's lead decides" if policy.closure_decided_by_team_lead(pending.requested_by_id, lead) \
                else "a supervisor decides"
        needs.append(Need(f"Closure requested: {who}", "closure", True))
    return {"meeting": meeting, "needs": needs}
