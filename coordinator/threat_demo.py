"""The demo's threat-assessment case: opened by the school's team member from a classmate's report, screened
the same day, given its team (lead, case manager, members by agency) and re-classified higher when more came
to light (the lead approving), with a plan in all four domains (S, T, E, P) chosen from
the installed agencies' strategy catalogue, a logged contact and its monitoring status, for a first
click-through. Like the rest of the core it names no agency and no strategy: it takes what is installed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import cases
from coordinator.cases import PersonIn, ReferralIn
from coordinator.lifecycle import screenings, strategies, team_roles, threat_plans
from coordinator.lifecycle.screenings import ScreeningDecisionIn, ScreeningIn
from coordinator.lifecycle.team_roles import TeamRoleIn
from coordinator.lifecycle.threat_plans import ContactIn, MonitoringIn, PlanItemIn
from coordinator.models import Case
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.settings import THREAT_LEVELS, ReferralThresholds

PER_DOMAIN = 2
KEEP_REASON = "Sam stays at home under his parents' supervision; the counsellor calls him every day"


def _lead(catalogue: strategies.Catalogue, agencies: list[str]) -> str:
    """The agency delivering the most strategies for the subject: on a school's case, the school's team."""
    subject = catalogue.by_domain()["subject"]
    return max(agencies, key=lambda agency: sum(agency in e.agencies for e in subject))


def _choices(catalogue: strategies.Catalogue, agencies: list[str]) -> list[tuple[strategies.Entry, str | None, str]]:
    """(strategy, form, owner): the first strategies of each domain as a whole, and for the subject one
    separation too, in its first form (a separation is a definite measure), each given to the first agency
    on the case offering it."""
    chosen = []
    for domain, entries in catalogue.offered_to(agencies).items():
        picked = [e for e in entries if e.kind != strategies.SEPARATION][:PER_DOMAIN]
        if domain == "subject":
            picked += [e for e in entries if e.kind == strategies.SEPARATION][:1]
        for entry in picked:
            detail = entry.details[0] if entry.details and entry.kind == strategies.SEPARATION else None
            owner = next(a for a in (entry.offering(detail) if detail else entry.agencies) if a in agencies)
            chosen.append((entry, detail.text if detail else None, owner))
    return chosen


async def open_demo_case(session: AsyncSession, registry: AgencyRegistry, chair: Actor, members: dict[str, Actor],
                         today: dt.date, levels: tuple[str, ...] = THREAT_LEVELS) -> Case | None:
    """The lead agency's member (``members`` gives a person of each agency) opens the case from a report with
    every installed agency as the team and screens it as ``levels[0]``; the chair names her the team's lead,
    himself its case manager and the other agencies' people its members, and re-classifies it as ``levels[1]``,
    which the lead approves; the lead's member logs the first contact. None when no installed agency
    contributes a strategy."""
    catalogue = strategies.catalogue(registry)
    if not catalogue.entries:
        return None
    lead = _lead(catalogue, registry.keys)
    reporter = members[lead]
    case = await cases.create_case(session, registry, ReferralThresholds(), reporter, ReferralIn(
        kind=threat_plans.KIND,
        people=[PersonIn("subject", "Sam"), PersonIn("target", "Alex", target_kind="person"),
                PersonIn("target", "Year 10 science class", target_kind="group")],
        summary="Reported by two classmates on Monday; Sam was dropped from the football team last week.",
        concern="Sam told classmates he would 'make the science class pay' and that he knows where his uncle "
                "keeps a gun.",
        agencies=registry.keys, lead_agency=lead, referring_agency=lead,
        reported_by="Two classmates", report_place="The science corridor, at lunch",
    ), today)
    await screenings.classify(session, registry, levels, reporter, case.id, ScreeningIn(
        0, levels[0], "Said in anger after football practice; he took it back when the counsellor spoke to him",
        [reporter.id]), today)
    for person, role in ((reporter, "lead"), (chair, "case_manager"),
                         *((m, "member") for key, m in members.items() if key != lead)):
        await team_roles.assign(session, chair, case.id, TeamRoleIn(person.id, role))
    await screenings.classify(session, registry, levels, chair, case.id, ScreeningIn(
        1, levels[1], "A specific target, a stated grievance and claimed access to his uncle's gun",
        [reporter.id, *(m.id for key, m in members.items() if key != lead)]), today)
    await screenings.decide(session, registry, levels, reporter, case.id, 2, ScreeningDecisionIn(approve=True), today)
    for days, (entry, detail, owner) in enumerate(_choices(catalogue, registry.keys), start=1):
        await threat_plans.add_plan_item(session, registry, chair, case.id, PlanItemIn(
            strategy=entry.key, agency=owner, detail=detail, due_on=today + dt.timedelta(days=days),
            review_on=today + dt.timedelta(days=days + 14), keep_reason=KEEP_REASON), today)
    await threat_plans.record_contact(session, registry, members[lead], case.id, ContactIn(
        about="subject", on=today, who="School counsellor", channel="in_person",
        reaction="Calm at first; angry and tearful when the football team came up",
        grievances="Says the coach humiliated him in front of the team and the class laughed"), today)
    await threat_plans.set_monitoring(session, chair, case.id, MonitoringIn(case.version, "active"), today)
    return case
