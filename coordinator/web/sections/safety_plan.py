"""The survivor's safety plan, read through the gate, written by the agency holding it."""

from coordinator import policy
from coordinator.lifecycle import safety_plans
from coordinator.web.sections.section import Reader, Section


async def load(reader: Reader) -> dict:
    case = reader.case
    holder = await safety_plans.holder(reader.db, case.id)
    return {"safety_plan": await safety_plans.current_plan(reader.db, reader.registry, reader.actor, case,
                                                           channel="page"),
            "plan_holder": holder, "plan_labels": safety_plans.section_labels(case.kind),
            "can_write_plan": policy.may_write_safety_plan(reader.actor, case, holder)}


SECTION = Section("safety-plan", "Safety plan", "sections/_safety_plan.html",
                  frozenset({"case", "items", "roles", "consents", "overrides"}), load)
