"""Each agency's task list on the case, and the coordinator's forms to add an agency or a task."""

from coordinator import duties, tasks
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    by_agency: dict[str, list] = {link.agency: [] for link in reader.case.agencies}
    for task in await tasks.case_tasks(reader.db, reader.case.id, reader.today):
        by_agency.setdefault(task.agency, []).append(task)
    every = [t for agency_tasks in by_agency.values() for t in agency_tasks]
    return {"tasks_by_agency": by_agency,
            "held_elsewhere": {agency: duties.held_elsewhere(reader.registry, every, agency) for agency in by_agency}}


SECTION = Section("tasks", "Task lists", "sections/_tasks.html", frozenset({"case", "agencies", "tasks", "roles"}),
                  load)
