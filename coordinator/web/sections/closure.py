"""Closing the case: the request with its task review, the supervisor's decision, and once closed
the notice, reopening and the consent register."""

from coordinator import consents, policy, tasks
from coordinator.lifecycle import closure, team_roles
from coordinator.web.sections.people import names
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    db, case = reader.db, reader.case
    open_tasks = [t for t in await tasks.case_tasks(db, case.id, reader.today)
                  if t.status not in tasks.CLOSED_STATUSES and t.source != "standing"]
    signed = await closure.sign_offs(db, case.id)
    closures = await closure.case_closures(db, case.id)
    lead = await team_roles.lead_id(db, case.id)
    pending = next((c for c in closures if c.status == "requested"), None)
    return {"closures": closures, "CLOSURE_CRITERIA": closure.CRITERIA, "team_lead_id": lead,
            "decided_by_team_lead": pending is not None and policy.closure_decided_by_team_lead(
                pending.requested_by_id, lead), "CLOSED_AS": closure.SHOWN_CRITERIA,
            "open_tasks": open_tasks, "sign_offs": signed, "people_names": await names(db, {s.by_id for s in signed}),
            "register_open": case.closed_at is not None and await consents.may_open_register(db, reader.actor, case.id)}


SECTION = Section("closure", "Closure", "sections/_closure.html", frozenset({"case", "tasks", "agencies"}), load)
