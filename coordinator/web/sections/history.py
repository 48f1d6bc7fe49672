"""Every version of the case's record: who, when, why and which fields; the latest first."""

from coordinator.lifecycle import case_changes
from coordinator.web.sections.people import names
from coordinator.web.sections.section import Reader, Section, more


async def load(reader: Reader) -> dict:
    revisions, has_more = more(await case_changes.history(reader.db, reader.case.id, limit=reader.shown + 1),
                               reader.shown)
    return {"revisions": revisions, "has_more": has_more,
            "people_names": await names(reader.db, {r.by_id for r in revisions})}


SECTION = Section("history", "History", "sections/_history.html", frozenset({"case"}), load)
