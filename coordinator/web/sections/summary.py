"""The case's facts: who, what, referral grounds, key dates, her earlier and later cases; and any
agency plugin that failed on it."""

from coordinator import audit, case_links, policy, transfers
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    failed = (await audit.case_entries(reader.db, reader.case.id, "plugin.failed")
              if policy.may_see_plugin_failures(reader.actor) else [])
    return {"plugin_failures": failed, "linked": await case_links.linked_cases(reader.db, reader.actor, reader.case.id),
            "provenance": await transfers.provenance(reader.db, reader.case.id)}


SECTION = Section("summary", "Summary", "sections/_summary.html", frozenset({"case", "agencies", "tasks", "events"}),
                  load)
