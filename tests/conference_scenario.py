"""A conference ready to run, built through the services: three agencies, two cases with
information that consent shares with some agencies and not others."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from coordinator import accounts, cases
from coordinator.accounts import actor_of
from coordinator.cases import PersonIn, ReferralIn
from coordinator.conference import meeting, participation, schedule
from coordinator.conference.meeting import VersionIn
from coordinator.conference.participation import InviteIn
from coordinator.conference.schedule import ConferenceIn
from coordinator.models import Consent, ConsentScope, InformationItem, utcnow
from coordinator.settings import ReferralThresholds

PASSWORD = "correct horse battery"
AGENCIES = ["police", "social_work", "health"]

# Case A (children): police's call-outs are shared with social work by consent; health's
# injuries are shared with nobody. Case B (adults only): social work's finances go to health.
CALL_OUTS = "Three call-outs to the address in May"
INJURIES = "Bruising to both arms treated at the emergency department"
ARREARS = "Rent arrears of four months"
# Case C (adults, standard risk, last on the agenda) has police and social work only: health
# sees its agenda line and nothing else.
CASE_C_SUMMARY = "Cara moved to a refuge in another county."
CASE_C_NOTE = "The new address in Dunmore is known to police only"

# username -> (agency, account role, role in the conference or None when not invited)
PEOPLE = {
    "chair": ("social_work", "coordinator", "chair"),
    "cochair": ("health", "coordinator", "coordinator"),
    "pc": ("police", "member", "representative"),
    "sw": ("social_work", "member", "representative"),
    "doc": ("health", "member", "representative"),
    "late": ("health", "member", "representative"),  # invited, never accepts the statement
    "outsider": ("police", "member", None),  # not invited
}
ACCEPTED = ("chair", "cochair", "pc", "sw", "doc")


@dataclass
class Scenario:
    conference_id: int
    case_a: int  # with children: first on the agenda
    case_b: int
    case_c: int  # health is not part of it
    users: dict[str, int]


async def _item(session, case_id: int, agency: str, category: str, text: str, by: int) -> None:
    session.add(InformationItem(case_id=case_id, agency=agency, category=category, nature="fact",
                                sensitivity="normal", text=text, recorded_by_id=by))


async def _consent(session, case_id: int, category: str, recipient: str, by: int) -> None:
    session.add(Consent(case_id=case_id, purpose="safety planning", method="written", given_by="the survivor",
                        given_at=utcnow() - dt.timedelta(days=1), recorded_by_id=by,
                        scopes=[ConsentScope(category=category, recipient=recipient)]))


async def build_conference(sessionmaker, registry, *, start: bool = True) -> Scenario:
    """Users, two cases, their information and consents, and a conference with both cases on
    the agenda; everyone but ``late`` has accepted the statement; started unless asked not to."""
    async with sessionmaker() as session:
        users = {}
        for username, (agency, role, _) in PEOPLE.items():
            users[username] = await accounts.create_user(
                session, username=username, agency=agency, role=role, password=PASSWORD,
                display_name=username.title(), agencies=registry.keys)
        chair = actor_of(users["chair"])
        today = utcnow().date()
        case_a = await cases.create_case(session, registry, ReferralThresholds(), chair, ReferralIn(
            kind="domestic_abuse", people=[PersonIn("survivor", "Nora"), PersonIn("child", "Ella")],
            checklist_score=15, agencies=AGENCIES, summary="Nora and Ella left the family home."), today)
        case_b = await cases.create_case(session, registry, ReferralThresholds(), chair, ReferralIn(
            kind="domestic_abuse", people=[PersonIn("survivor", "Ana")], checklist_score=16, agencies=AGENCIES,
            summary="Ana lives alone."), today)
        case_c = await cases.create_case(session, registry, ReferralThresholds(), chair, ReferralIn(
            kind="domestic_abuse", people=[PersonIn("survivor", "Cara")], incidents_last_12_months=3,
            agencies=["police", "social_work"], summary=CASE_C_SUMMARY), today)
        await _item(session, case_c.id, "police", "police.call_outs", CASE_C_NOTE, users["pc"].id)
        await _consent(session, case_c.id, "police.call_outs", "social_work", chair.id)
        await _item(session, case_a.id, "police", "police.call_outs", CALL_OUTS, users["pc"].id)
        await _item(session, case_a.id, "health", "health.injuries", INJURIES, users["doc"].id)
        await _consent(session, case_a.id, "police.call_outs", "social_work", chair.id)
        await _item(session, case_b.id, "social_work", "social_work.finances", ARREARS, users["sw"].id)
        await _consent(session, case_b.id, "social_work.finances", "health", chair.id)
        conference = await schedule.schedule_conference(session, registry, chair, ConferenceIn(
            title="Weekly MARAC", scheduled_at=utcnow(), chair_id=users["chair"].id, case_ids=[case_c.id, case_b.id, case_a.id],
            participants=[InviteIn(users[name].id, role) for name, (_, _, role) in PEOPLE.items()
                          if role not in (None, "chair")]))
        for name in ACCEPTED:
            await participation.accept_statement(session, actor_of(users[name]), conference.id)
        if start:
            await meeting.start_conference(session, registry, chair, conference.id, VersionIn(version=1))
        await session.commit()
        return Scenario(conference.id, case_a.id, case_b.id, case_c.id, {name: user.id for name, user in users.items()})
