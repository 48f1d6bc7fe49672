"""Mandatory reporting: who explained the duty to her and when, and the reports made under a duty."""

from coordinator import consents
from coordinator.lifecycle import mandatory_reports
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    reports = await mandatory_reports.case_reports(reader.db, reader.case.id)
    return {"mandatory_reports": reports,
            "reported_by_names": await consents.display_names(reader.db, {r.recorded_by_id for r in reports})}


SECTION = Section("mandatory-reports", "Mandatory reporting", "sections/_mandatory_reports.html",
                  frozenset({"case"}), load)
