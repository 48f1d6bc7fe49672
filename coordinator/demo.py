"""Demo data for a first click-through: a few people per agency, a coordinator, a supervisor,
one case with children in the household, and a conference on it to join."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import accounts, case_changes, cases, monitor
from coordinator.accounts import actor_of
from coordinator.case_changes import StageIn
from coordinator.cases import KeyDateIn, PersonIn, ReferralIn
from coordinator.conference import roles, schedule
from coordinator.conference.participation import InviteIn
from coordinator.conference.roles import CaseRoleIn
from coordinator.conference.schedule import ConferenceIn
from coordinator.models import User, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.settings import ReferralThresholds

DEMO_PASSWORD = "demo-password"


def _demo_people(registry: AgencyRegistry) -> list[tuple[str, str | None, str, str]]:
    """(username, agency, role, display name): two people per installed agency, the chair
    and the supervisor from the first agency, and an administrator."""
    keys = registry.keys
    people = [("admin", None, "admin", "Administrator"),
              ("chair", keys[0], "coordinator", "Chris Chair"),
              ("supervisor", keys[0], "supervisor", "Sam Supervisor")]
    for key in keys:
        people += [(f"{key}.rep", key, "member", f"{registry.name(key)} representative"),
                   (f"{key}.officer", key, "member", f"{registry.name(key)} officer")]
    return people


async def load_demo(session: AsyncSession, registry: AgencyRegistry) -> list[str]:
    if (await session.execute(select(User.id).where(User.username == "chair"))).scalar() is not None:
        return ["demo data already loaded; log in as chair / demo-password"]
    users = {}
    for username, agency, role, name in _demo_people(registry):
        users[username] = await accounts.create_user(session, username=username, agency=agency, role=role,
                                                     password=DEMO_PASSWORD, display_name=name, agencies=registry.keys)
    today = utcnow().date()
    case = await cases.create_case(session, registry, ReferralThresholds(), actor_of(users["chair"]), ReferralIn(
        kind="domestic_abuse",
        people=[PersonIn("survivor", "Nora"), PersonIn("subject", "Mark"), PersonIn("child", "Ella"), PersonIn("child", "Leo")],
        summary="Nora left the family home after an assault; Mark is in custody. Two children live with Nora.",
        checklist_score=16, incidents_last_12_months=3,
        key_dates=[KeyDateIn("release_from_custody", today + dt.timedelta(days=10), "Mark's expected release"),
                   KeyDateIn("hearing", today + dt.timedelta(days=21), "Restraining order hearing")],
        agencies=registry.keys, lead_agency=registry.keys[0],
    ), today)
    # Between meetings: police holds safety planning, the case is in follow-up, and the monitor
    # has raised the release date's event (with the agencies' tasks).
    chair = actor_of(users["chair"])
    planner = next((a.key for a in registry if registry.can_take(a.key, "safety_planning")), None)
    if planner is not None:
        await roles.assign_case_role(session, registry, chair, case.id, CaseRoleIn("safety_planning", planner, 0))
    await case_changes.move_stage(session, chair, case.id, StageIn(case.version, "follow_up", "action plan agreed"))
    due = [d for d in await monitor.due_events(session, today, near_days=14) if d.case_id == case.id]
    await monitor.raise_due(session, registry, case.id, due)
    conference = await schedule.schedule_conference(session, registry, actor_of(users["chair"]), ConferenceIn(
        title="Demo MARAC", scheduled_at=utcnow() + dt.timedelta(hours=1), chair_id=users["chair"].id,
        case_ids=[case.id], participants=[InviteIn(u.id, "representative") for name, u in users.items()
                                          if name.endswith(".rep")]))
    lines = [f"demo case {case.reference} created with agencies {', '.join(registry.keys)}",
             f"demo conference {conference.id} scheduled: the chair and each agency's representative are invited",
             f"users (password {DEMO_PASSWORD!r}): " + ", ".join(u for u in users)]
    return lines
