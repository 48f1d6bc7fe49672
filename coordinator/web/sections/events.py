"""Events raised on the case (by the monitor or recorded by someone on it), the latest first."""

from coordinator.lifecycle import case_events
from coordinator.web.sections.people import names
from coordinator.web.sections.section import Reader, Section, more


async def load(reader: Reader) -> dict:
    raised, has_more = more(await case_events.case_events(reader.db, reader.case.id, listed_only=True,
                                                          limit=reader.shown + 1), reader.shown)
    return {"case_event_list": raised, "has_more": has_more,
            "people_names": await names(reader.db, {e.by_id for e in raised})}


SECTION = Section("events", "Events", "sections/_events.html", frozenset({"case", "events"}), load)
