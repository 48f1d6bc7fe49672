"""The case's facts: who, what, referral grounds, key dates; and any agency plugin that failed on it."""

from coordinator import audit, policy
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    failed = (await audit.case_entries(reader.db, reader.case.id, "plugin.failed")
              if policy.may_see_plugin_failures(reader.actor) else [])
    return {"plugin_failures": failed}


SECTION = Section("summary", "Summary", "sections/_summary.html", frozenset({"case", "agencies", "tasks", "events"}),
                  load)
