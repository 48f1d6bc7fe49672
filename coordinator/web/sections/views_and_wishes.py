"""Her views and wishes, read through the gate, recorded by whoever holds victim contact."""

from coordinator.lifecycle import views_and_wishes
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    return {"views": await views_and_wishes.current_views(reader.db, reader.registry, reader.actor, reader.case,
                                                          channel="page"),
            "views_labels": views_and_wishes.PARTS}


SECTION = Section("views-and-wishes", "Her views and wishes", "sections/_views_and_wishes.html",
                  frozenset({"case", "items", "roles", "consents", "overrides"}), load)
