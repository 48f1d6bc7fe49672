"""Each agency's task list on the case, the ground each agency joined on, and the coordinator's
forms to add an agency (on the ground it has, or why it has none) or a task."""

from coordinator import cases, duties, policy, tasks
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    by_agency: dict[str, list] = {link.agency: [] for link in reader.case.agencies}
    for task in await tasks.case_tasks(reader.db, reader.case.id, reader.today):
        by_agency.setdefault(task.agency, []).append(task)
    every = [t for agency_tasks in by_agency.values() for t in agency_tasks]
    joinable = (await cases.join_grounds(reader.db, reader.registry, reader.case)
                if policy.may_coordinate_case(reader.actor, reader.case) else {})
    return {"tasks_by_agency": by_agency,
            "grounds": {link.agency: link.ground for link in reader.case.agencies},
            "joinable": joinable,
            "held_elsewhere": {agency: duties.held_elsewhere(reader.registry, every, agency) for agency in by_agency}}


# Consents and overrides decide which agencies may join, so the form follows them too.
SECTION = Section("tasks", "Task lists", "sections/_tasks.html",
                  frozenset({"case", "agencies", "tasks", "roles", "consents", "overrides"}), load)
