"""Disclosure rules of the live meeting, quick (in this process, no server): one render serves
an audience, yet every person of it who is shown another agency's information is audited; and a
survivor's consent counts for its own case only, never for another case the meeting discusses."""

from __future__ import annotations

from sqlalchemy import select

from coordinator import accounts, consents, gate
from coordinator.accounts import actor_of
from coordinator.conference import participation
from coordinator.conference.participation import InviteIn
from coordinator.conference.state import EVERYTHING
from coordinator.errors import NotFound
from coordinator.models import Consent, ConsentScope, ConsentWithdrawal, Disclosure, InformationItem, utcnow
from coordinator.policy import Audience
from coordinator.web.live.hub import Member, Room
from tests.conference_scenario import CALL_OUTS, build_conference


async def _actor(sessionmaker, username: str):
    async with sessionmaker() as session:
        return actor_of(await accounts.user_by_username(session, username))


async def _call_outs_item(sessionmaker, case_id: int) -> int:
    async with sessionmaker() as session:
        return (await session.execute(select(InformationItem.id).where(
            InformationItem.case_id == case_id, InformationItem.text == CALL_OUTS))).scalar_one()


async def test_two_people_of_one_agency_on_the_live_page_are_each_audited_for_what_they_saw(
        app, registry, make_user):
    sessionmaker = app.state.sessionmaker
    scenario = await build_conference(sessionmaker, registry)
    second = await make_user("sw2", "social_work")
    async with sessionmaker() as session:  # a second social worker joins the meeting
        chair = await _actor(sessionmaker, "chair")
        await participation.invite_participant(session, chair, scenario.conference_id, InviteIn(second.id))
        await participation.accept_statement(session, actor_of(second), scenario.conference_id)
        await session.commit()
    room = Room(app.state.live, scenario.conference_id)
    pages = [Member(await _actor(sessionmaker, name), Audience("social_work", "member"), None)
             for name in ("sw", "sw2")]
    room.members.update(pages)

    await room._deliver(EVERYTHING, pages)  # one render for the audience, sent to both pages
    shown = [page.outbox.get_nowait() for page in pages]
    assert all(CALL_OUTS in message for message in shown)  # police's, shared with social work by consent
    item = await _call_outs_item(sessionmaker, scenario.case_a)
    async with sessionmaker() as session:
        sightings = (await session.execute(select(Disclosure.viewer_id).where(
            Disclosure.item_id == item, Disclosure.channel == "conference"))).scalars().all()
    assert sorted(sightings) == sorted([scenario.users["sw"], second.id])


async def test_a_consent_counts_for_its_own_case_only(app, registry):
    sessionmaker = app.state.sessionmaker
    scenario = await build_conference(sessionmaker, registry)
    # Case B's consent shares police's call-outs with health; case A has call-outs too, and no such consent.
    async with sessionmaker() as session:
        session.add(Consent(case_id=scenario.case_b, purpose="safety planning", method="written",
                            given_by="the survivor", given_at=utcnow(), recorded_by_id=scenario.users["chair"],
                            scopes=[ConsentScope(category="police.call_outs", recipient="health")]))
        await session.commit()
    doc = await _actor(sessionmaker, "doc")
    async with sessionmaker() as session:
        views = await gate.visible_items(session, registry, doc, scenario.case_a, channel="conference")
        await session.commit()
    call_outs = next(v for v in views if v.category == "police.call_outs")
    assert call_outs.text is None and not call_outs.decision.disclosed

    # Nor can a consent be withdrawn (or otherwise changed) through another case.
    chair = await _actor(sessionmaker, "chair")
    async with sessionmaker() as session:
        case_b_consent = (await session.execute(select(Consent.id).where(
            Consent.case_id == scenario.case_b).order_by(Consent.id))).scalars().first()
        try:
            await consents.withdraw_consent(session, chair, scenario.case_a, case_b_consent, consents.WithdrawalIn(
                note="asked by phone"))
            raise AssertionError("a consent of case B was withdrawn through case A")
        except NotFound as refused:
            assert f"on case {scenario.case_a}" in refused.message
        await session.rollback()
        assert (await session.execute(select(ConsentWithdrawal))).first() is None
