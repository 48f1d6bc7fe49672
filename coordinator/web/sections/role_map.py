"""The role map: who holds which responsibility on the case."""

from coordinator.conference import roles
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    return {"roles": await roles.case_roles(reader.db, reader.case.id)}


SECTION = Section("role-map", "Role map", "sections/_role_map.html", frozenset({"case", "agencies", "roles"}), load)
