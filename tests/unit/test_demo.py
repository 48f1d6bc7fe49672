"""The demo a newcomer loads (`make run DEMO=1`) holds what the README's pictures show: a case
mid-follow-up with information shared by consent, an override awaiting the supervisor, a safety
plan, her views recorded by her advocate (holding victim contact), two follow-ups (one that did not
reach her) and a release date that raised its event; and a threat-assessment case from a report,
screened, given its team and re-classified with the lead's approval."""

from __future__ import annotations

from sqlalchemy import func, select

from coordinator import case_links
from coordinator.demo import load_demo
from coordinator.lifecycle.referrals import DEMO_EARLIER_BORN_ON
from coordinator.models import (
    Case,
    Conference,
    Consent,
    EqualityAnswers,
    FollowUp,
    InformationItem,
    MandatoryReport,
    Override,
    RaisedEvent,
    Referral,
    ResearchReturn,
    RoleAssignment,
    SurveyAdministration,
    Task,
    TeamRole,
    ThreatScreening,
    User,
)
from coordinator.settings import THREAT_LEVELS


async def test_the_demo_holds_a_case_between_meetings(sessionmaker, registry):
    async with sessionmaker() as session:
        await load_demo(session, registry)
        await session.commit()
    async with sessionmaker() as session:
        count = lambda model, *where: session.execute(select(func.count()).select_from(model).where(*where))  # noqa: E731
        case, threat, closed = (await session.execute(select(Case).order_by(Case.id))).scalars().all()
        assert case.stage == "follow_up" and closed.closed_at is not None
        assert (case.checklist_score, case.duty_explained_by) == (16, "Demo Chair")  # from the referral form
        referral_parts = set((await session.execute(select(InformationItem.category).where(
            InformationItem.case_id == case.id, InformationItem.category.like("case.referral_%")))).scalars())
        assert referral_parts == {"case.referral_contact", "case.referral_risk", "case.referral_children",
                                  "case.referral_perpetrator"}
        assert (await count(EqualityAnswers, EqualityAnswers.case_id == case.id)).scalar() == 1
        assert (await count(MandatoryReport, MandatoryReport.case_id == case.id)).scalar() == 1
        assert threat.kind == "threat_assessment" and threat.reported_at is not None and threat.reported_by
        screened = (await session.execute(select(ThreatScreening.version, ThreatScreening.level, ThreatScreening.status)
                                          .where(ThreatScreening.case_id == threat.id)
                                          .order_by(ThreatScreening.version))).all()
        assert screened == [(1, THREAT_LEVELS[0], "approved"), (2, THREAT_LEVELS[1], "approved")]
        assert (await count(RaisedEvent, RaisedEvent.event == "threat_level_raised")).scalar() == 1
        team = set((await session.execute(select(TeamRole.role).where(TeamRole.case_id == threat.id))).scalars())
        assert team == {"lead", "case_manager", "member"}
        domains = set((await session.execute(select(Task.domain).where(
            Task.case_id == threat.id, Task.strategy.is_not(None)))).scalars())
        assert domains == {"subject", "target", "environment", "precipitating_events"}
        assert (await count(RaisedEvent, RaisedEvent.event == "key_date_near")).scalar() == 1
        assert (await count(Task, Task.source == "case_event")).scalar() >= 1
        assert (await count(InformationItem, InformationItem.category == "case.safety_plan")).scalar() == 1
        [views] = (await session.execute(select(InformationItem).where(
            InformationItem.category == "case.views_and_wishes"))).scalars().all()
        recorder = await session.get(User, views.recorded_by_id)
        assert (views.case_id, views.agency, recorder.username) == (case.id, "advocacy", "advocacy.rep")
        contact = (await session.execute(select(RoleAssignment.agency).where(
            RoleAssignment.case_id == case.id, RoleAssignment.responsibility == "victim_contact"))).scalars().all()
        assert contact == ["advocacy"]  # her advocate is on the case, holding victim contact
        outcomes = sorted((await session.execute(select(FollowUp.outcome).where(FollowUp.case_id == case.id)))
                          .scalars(), key=str)
        assert outcomes == [None, "not_reached"]
        assert (await count(Consent, Consent.case_id == case.id)).scalar() >= 1
        assert (await session.execute(select(Override.status))).scalars().all() == ["requested"]
        states = set((await session.execute(select(Referral.status))).scalars())
        assert states >= {"draft", "sent", "accepted", "declined", "completed"}
        assert (await count(SurveyAdministration, SurveyAdministration.case_id == closed.id)).scalar() == 1
        assert (await session.execute(select(Conference.agenda_circulated_at))).scalar() is not None
        returned = set((await session.execute(select(ResearchReturn.outcome).where(
            ResearchReturn.submitted_at.is_not(None)))).scalars())
        assert returned == {"information", "nothing_held", "not_researched"}
        again = await load_demo(session, registry)
    assert "already loaded" in again[0]


async def test_the_demo_closed_case_is_found_when_she_is_referred_again(sessionmaker, registry):
    async with sessionmaker() as session:
        await load_demo(session, registry)
        await session.commit()
    async with sessionmaker() as session:
        closed = (await session.execute(select(Case).where(Case.closed_at.is_not(None)))).scalar_one()
        found = await case_links.candidates(session, [case_links.Person("survivor", "Amira Hadad", DEMO_EARLIER_BORN_ON)])
    assert [c.case_id for c in found] == [closed.id]
    assert found[0].reasons == ("survivor “Amira Hadad” and survivor “Amira Haddad”: names sound alike, "
                                "same date of birth",)
