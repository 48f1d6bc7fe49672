"""Demo data for a first click-through: a few people per agency, a coordinator, a supervisor,
one case with children in the household (mid-follow-up: information shared by consent, an override
awaiting the supervisor, a safety plan, follow-ups, a release date that has raised its event), and
a conference on it to join."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import accounts, cases, consents, information, overrides, threat_demo
from coordinator.accounts import actor_of
from coordinator.cases import KeyDateIn, PersonIn, ReferralIn
from coordinator.conference import research, roles, schedule
from coordinator.conference.participation import InviteIn
from coordinator.conference.research import ResearchItemIn, ReturnIn
from coordinator.conference.roles import CaseRoleIn
from coordinator.conference.schedule import ConferenceIn
from coordinator.consents import ConsentIn
from coordinator.equality import EqualityIn
from coordinator.information import ItemIn
from coordinator.lifecycle import (
    case_changes,
    follow_ups,
    mandatory_reports,
    monitor,
    referrals,
    safety_plans,
    views_and_wishes,
)
from coordinator.lifecycle.case_changes import StageIn
from coordinator.lifecycle.follow_ups import FollowUpIn, OutcomeIn
from coordinator.lifecycle.mandatory_reports import MandatoryReportIn
from coordinator.lifecycle.referral_form import ReferralFormIn
from coordinator.lifecycle.safety_plans import SafetyPlanIn
from coordinator.lifecycle.views_and_wishes import ViewsIn
from coordinator.models import User, utcnow
from coordinator.overrides import OverrideIn
from coordinator.plugins import AgencyRegistry
from coordinator.settings import ReferralThresholds

DEMO_PASSWORD = "demo-password"
# The demo's supervisor and administrator must use a second factor: this is their authenticator
# app's key (type it into any TOTP app, or let a test compute its codes with pyotp).
DEMO_TOTP_SECRET = "DEMODEMODEMODEMODEMODEMODEMODEMO"
DEMO_SECOND_FACTOR_ROLES = ("supervisor", "admin")


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


async def _share_and_follow_up(session: AsyncSession, registry: AgencyRegistry, users: dict, case_id: int,
                               planner: str | None, today: dt.date) -> None:
    """What the pictures in the README show: each agency's first category recorded, the first
    agency's shared with the others by consent, an override awaiting the supervisor, a safety plan,
    her views and wishes and two follow-ups (one that did not reach her, one to come)."""
    keys = registry.keys
    first = {key: next(iter(registry.get(key).categories), None) for key in keys}
    for key, category in first.items():
        if category is not None:
            await information.record_item(session, registry, actor_of(users[f"{key}.officer"]), case_id, ItemIn(
                category, "fact", f"Demo: what {registry.name(key)} holds about the case ({category})"))
    chair = actor_of(users["chair"])
    if first[keys[0]] is not None and len(keys) > 1:
        await consents.grant_consent(session, registry, chair, case_id, ConsentIn(
            purpose="Multi-agency risk assessment conference", method="written", given_by="Nora",
            categories=[first[keys[0]]], recipients=keys[1:]))
    if first[keys[-1]] is not None and len(keys) > 1:
        await overrides.request_override(session, registry, actor_of(users[f"{keys[0]}.officer"]), case_id, OverrideIn(
            legal_basis="risk_to_life", justification="Threats to kill made on release",
            categories=[first[keys[-1]]], recipients=[keys[0]], expires_at=utcnow() + dt.timedelta(days=30)))
    if planner is not None:
        await safety_plans.write_plan(session, registry, actor_of(users[f"{planner}.officer"]), case_id, SafetyPlanIn(
            review_on=today + dt.timedelta(days=28), safe_places="Her sister's flat; the refuge if he is released",
            escape_routes="Back door to the garden path", emergency_contacts="999; the advocate's mobile",
            children="School told who may collect them", digital_safety="New phone; location sharing off",
            support="Weekly call with the advocate"))
    await _her_views(session, registry, users, case_id, today)
    lead = actor_of(users[f"{keys[0]}.officer"])
    missed = await follow_ups.plan_follow_up(session, registry, lead, case_id, FollowUpIn(
        keys[0], today, "visit", False, safe_contact="Ask for 'Anna from the surgery'"))
    await follow_ups.record_outcome(session, registry, lead, missed.id, OutcomeIn(missed.version, "not_reached", today))
    await follow_ups.plan_follow_up(session, registry, lead, case_id, FollowUpIn(
        keys[0], today + dt.timedelta(days=7), "in_person", False, safe_contact="Meet at the library"))


async def _her_views(session: AsyncSession, registry: AgencyRegistry, users: dict, case_id: int,
                     today: dt.date) -> None:
    """Her views and wishes, recorded by the representative of the agency holding victim contact (her
    advocate, when that agency is installed: it takes the role when it joins), and shared by her
    consent with every other agency on the case."""
    contact = await views_and_wishes.holder(session, case_id)
    if contact is None:
        return
    await views_and_wishes.record(session, registry, actor_of(users[f"{contact.agency}.rep"]), case_id, ViewsIn(
        asked_on=today - dt.timedelta(days=2),
        views="I want to stay in the flat with the children. I do not want Mark to know where we are.",
        wishes="Tell me before he is released. The children stay at their school.",
        worries="That he will wait for us at the school gate."))
    others = [key for key in registry.keys if key != contact.agency]
    if others:
        await consents.grant_consent(session, registry, actor_of(users["chair"]), case_id, ConsentIn(
            purpose="Her views heard at the case conference", method="verbal", given_by="Nora",
            categories=[views_and_wishes.CATEGORY], recipients=others))


async def _research_returns(session: AsyncSession, registry: AgencyRegistry, users: dict, conference_id: int,
                            case_id: int) -> None:
    """The agenda circulated and the case's research in each state: the first agency's information,
    held for the meeting; "nothing held"; "not researched, because"; the others still awaited."""
    keys = registry.keys
    await research.circulate_agenda(session, registry, actor_of(users["chair"]), conference_id)
    category = next(iter(registry.get(keys[0]).categories), None)
    if category is not None:
        holder = actor_of(users[f"{keys[0]}.rep"])
        await research.record_research_item(session, registry, holder, conference_id, case_id, ResearchItemIn(
            category, "opinion", f"Demo: what {registry.name(keys[0])} will share at the meeting", sharing="meeting"))
        await research.submit_return(session, registry, holder, conference_id, case_id, ReturnIn("information"))
    outcomes = [ReturnIn("nothing_held"), ReturnIn("not_researched", "Records system down for maintenance this week")]
    for key, outcome in zip(keys[1:], outcomes, strict=False):
        await research.submit_return(session, registry, actor_of(users[f"{key}.rep"]), conference_id, case_id, outcome)


def demo_referral_form(today: dt.date) -> ReferralFormIn:
    """Nora's referral as the referrer filled it in: 16 of the 24 checklist questions answered yes."""
    return ReferralFormIn(
        aware="yes", safe_number="07700 900123", safe_times="Weekdays 10:00-14:00, while Mark's family is at work",
        message_ok="no", safe_word="Dentist", fears="Mark, and his brother, who has driven past the refuge",
        language="English", interpreter="no", access_needs="None",
        checklist=["yes"] * 16 + ["no"] * 6 + ["not_known"] * 2,
        concerns="Mark threatened to kill her if she left; his release is close and he knows the children's school.",
        children_schools="Ella (8) and Leo (5): Riverside Primary", perpetrator="Mark, 38; in custody until his "
        "release; previous convictions for violence", duty_explained_by="Demo Chair", duty_explained_on=today)


async def load_demo(session: AsyncSession, registry: AgencyRegistry) -> list[str]:
    if (await session.execute(select(User.id).where(User.username == "chair"))).scalar() is not None:
        return ["demo data already loaded; log in as chair / demo-password"]
    users = {}
    for username, agency, role, name in _demo_people(registry):
        users[username] = await accounts.create_user(session, username=username, agency=agency, role=role,
                                                     password=DEMO_PASSWORD, display_name=name, agencies=registry.keys)
        if role in DEMO_SECOND_FACTOR_ROLES:
            users[username].totp_secret = DEMO_TOTP_SECRET
        # An address at a reserved domain: with the default COORDINATOR_SMTP_URL the messages go to the log.
        users[username].email = f"{username}@demo.example"
    today = utcnow().date()
    case = await cases.create_case(session, registry, ReferralThresholds(), actor_of(users["chair"]), ReferralIn(
        kind="domestic_abuse",
        people=[PersonIn("survivor", "Nora"), PersonIn("subject", "Mark"), PersonIn("child", "Ella"), PersonIn("child", "Leo")],
        summary="Nora left the family home after an assault; Mark is in custody. Two children live with Nora.",
        form=demo_referral_form(today), equality=EqualityIn("white", "no", "heterosexual", "female", "no"),
        incidents_last_12_months=3, referring_agency=registry.keys[0],
        key_dates=[KeyDateIn("release_from_custody", today + dt.timedelta(days=10), "Mark's expected release"),
                   KeyDateIn("hearing", today + dt.timedelta(days=21), "Restraining order hearing")],
        agencies=registry.keys, lead_agency=registry.keys[0],
    ), today)
    await mandatory_reports.record_report(session, actor_of(users["chair"]), case.id, MandatoryReportIn(
        "Children's social care, front door", today, "Child protection: the children witnessed the assault"), today)
    # Between meetings: the first agency able to hold safety planning holds it, the case is in follow-up, and
    # the monitor has raised the release date's event (with the agencies' tasks).
    chair = actor_of(users["chair"])
    planner = next((a.key for a in registry if registry.can_take(a.key, "safety_planning")), None)
    if planner is not None:
        await roles.assign_case_role(session, registry, chair, case.id, CaseRoleIn("safety_planning", planner, 0))
    await case_changes.move_stage(session, chair, case.id, StageIn(case.version, "follow_up", "action plan agreed"))
    due = [d for d in await monitor.due_events(session, today, near_days=14, now=utcnow()) if d.case_id == case.id]
    await monitor.raise_due(session, registry, case.id, due)
    await _share_and_follow_up(session, registry, users, case.id, planner, today)
    threat = await threat_demo.open_demo_case(session, registry, chair, {
        key: actor_of(users[f"{key}.rep"]) for key in registry.keys}, today)
    # Research is due when the meeting starts (an hour from now), so the returns made here are on time.
    conference = await schedule.schedule_conference(session, registry, actor_of(users["chair"]), ConferenceIn(
        title="Demo MARAC", scheduled_at=utcnow() + dt.timedelta(hours=1), chair_id=users["chair"].id,
        case_ids=[case.id, *([threat.id] if threat else [])],
        participants=[InviteIn(u.id, "representative") for name, u in users.items() if name.endswith(".rep")]),
        research_days=0)
    await _research_returns(session, registry, users, conference.id, case.id)
    lines = [f"demo case {case.reference} created with agencies {', '.join(registry.keys)}",
             *([f"threat-assessment case {threat.reference} with a plan in all four domains"] if threat else []),
             f"demo conference {conference.id} scheduled, its agenda circulated and research returned in each state: "
             "the chair and each agency's representative are invited",
             f"users (password {DEMO_PASSWORD!r}): " + ", ".join(u for u in users),
             f"supervisor and admin use a second factor: authenticator app key {DEMO_TOTP_SECRET}"]
    return lines + await referrals.load_referrals_and_feedback(session, registry, users, case)
