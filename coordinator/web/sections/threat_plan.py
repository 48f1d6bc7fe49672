"""A threat-assessment case's management plan (chosen from the strategy catalogue), its monitoring
status and its contact log (through the gate)."""

from sqlalchemy import select

from coordinator import cases, policy
from coordinator.hookspecs import STRATEGY_DOMAINS
from coordinator.lifecycle import screenings, strategies, team_roles, team_sharing, threat_plans
from coordinator.models import Case, User, utcnow
from coordinator.web.sections.section import Reader, Section


def is_threat_assessment(case: Case) -> bool:
    return case.kind == threat_plans.KIND


async def load(reader: Reader) -> dict:
    db, actor, case = reader.db, reader.actor, reader.case
    agencies = cases.agencies_of(case)
    plan = await threat_plans.case_plan(db, reader.registry, case.id)
    people = (await db.execute(select(User.id, User.display_name, User.agency).where(
        User.agency.in_(agencies), User.active.is_(True)).order_by(User.display_name))).all()
    history = await screenings.history(db, case.id)
    lead = await team_roles.lead_id(db, case.id)
    pending = next((s for s in history if s.status == screenings.PENDING), None)
    return {"threat": {
        "screenings": history, "screening_due": screenings.screening_due(case, bool(history), utcnow()),
        "current": next((s for s in history if s.status == screenings.APPROVED), None),
        "pending": pending, "can_decide_pending": pending is not None and policy.may_decide_classification(
            actor, case, lead, pending.by_id),
        "team": await team_roles.team(db, case.id), "team_roles": policy.TEAM_ROLES,
        "can_name": [r for r in policy.TEAM_ROLES if policy.may_assign_team_role(actor, case, r, lead)],
        "plan": plan, "review_now": {i.task.id for i in plan.items if threat_plans.review_now(i.task, reader.today)},
        "catalogue": strategies.catalogue(reader.registry).offered_to(agencies),
        "domain_labels": strategies.DOMAIN_LABELS, "letters": STRATEGY_DOMAINS,
        "can_plan_for": [a for a in agencies if policy.may_change_task(actor, case, a)],
        "can_keep": policy.may_keep_plan(actor, case, threat_plans.plan_agencies([i.task for i in plan.items])),
        "can_set_monitoring": policy.may_set_monitoring(actor, case),
        "can_log_contact": policy.may_log_contact(actor, case, agencies),
        "can_screen": policy.may_screen(actor, case, agencies),
        "team_basis": await team_sharing.in_force(db, case.id),
        "can_keep_team_basis": policy.may_keep_team_basis(actor, case),
        "people": people, "contact_log": await threat_plans.contact_log(db, reader.registry, actor, case, channel="page"),
        "monitoring": threat_plans.MONITORING, "channels": threat_plans.CHANNELS,
        "contact_about": threat_plans.CONTACT_ABOUT,
    }}


SECTION = Section("threat-plan", "Threat plan and contacts", "sections/_threat_plan.html",
                  frozenset({"case", "agencies", "tasks", "items", "consents", "overrides", "events"}), load,
                  applies=is_threat_assessment)
