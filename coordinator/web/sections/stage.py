"""The case's stage, the risk reassessment and the edit of its record."""

from coordinator.lifecycle import follow_ups
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    return {"not_reached_days": await follow_ups.not_reached_for(reader.db, reader.case.id)}


SECTION = Section("stage", "Stage and risk", "sections/_stage.html", frozenset({"case", "follow_ups"}), load)
