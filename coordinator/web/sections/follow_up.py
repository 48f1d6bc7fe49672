"""Follow-up contacts with the survivor: the latest first, their notes through the gate."""

from coordinator import policy
from coordinator.cases import RISK_LEVELS
from coordinator.lifecycle import follow_ups
from coordinator.web.sections.section import Reader, Section, more

TASK_ROWS = 2  # new tasks the outcome form offers at once; the API takes up to follow_ups.MAX_NEW_TASKS
CHOICES = {"methods": follow_ups.METHODS, "outcomes": follow_ups.OUTCOMES, "risks": RISK_LEVELS,
           "questions": follow_ups.QUESTIONS, "task_rows": range(TASK_ROWS)}


async def load(reader: Reader) -> dict:
    case, actor = reader.case, reader.actor
    views, has_more = more(await follow_ups.case_follow_ups(
        reader.db, reader.registry, actor, case.id, channel="page", limit=reader.shown + 1), reader.shown)
    return {"follow_ups": views, "has_more": has_more,
            "not_reached_days": await follow_ups.not_reached_for(reader.db, case.id),
            "follow_up_agencies": [link.agency for link in case.agencies
                                   if policy.may_follow_up_for(actor, case, link.agency)],
            "can_record_outcome": {v.row.id for v in views if v.row.outcome is None
                                   and policy.may_follow_up_for(actor, case, v.row.agency)},
            "follow_up_choices": CHOICES}


SECTION = Section("follow-ups", "Follow-up", "sections/_follow_ups.html",
                  frozenset({"case", "agencies", "follow_ups", "items", "consents", "overrides"}), load)
