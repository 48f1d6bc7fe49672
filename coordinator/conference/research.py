"""Before the meeting: the research deadline, the agenda circulated to the invited agencies, each
agency's research return per case, and the chair's view of who is ready.

A return is one agency's answer on one case for one conference: its items ("information
recorded"), "nothing held", or "not researched" with the reason. Its items are the agency's own
while the return is a draft; once submitted each is shared as its agency chose (now, at the
meeting, or not at all, with the reason). What another agency sees of them is the consent gate's
decision alone (``coordinator.gate``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from coordinator import audit, events, gate, information, notifications, policy
from coordinator.conference.participation import active_user, invited, load_conference, participant_of
from coordinator.errors import Conflict, Invalid
from coordinator.gate import ItemView
from coordinator.information import ItemIn
from coordinator.limits import Category, Id, OneOf, Text
from coordinator.models import (
    RESEARCH_OUTCOMES,
    AgendaItem,
    Case,
    Conference,
    InformationItem,
    Participant,
    ResearchReturn,
    utcnow,
)
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor

SHARING = ("now", "meeting", "not_shared")
NATURES = information.NATURES
SENSITIVITIES = information.SENSITIVITIES
# As people read them, on pages and in the minutes.
OUTCOME_LABELS = {"information": "Information recorded", "nothing_held": "Nothing held",
                  "not_researched": "Not researched"}
SHARING_LABELS = {"now": "Shared now", "meeting": "Shared at the meeting", "not_shared": "Not shared"}
# What the chair's readiness view says of one agency on one case.
READINESS = ("returned", "nothing_held", "not_researched", "overdue", "awaiting")


def research_deadline(meeting_at: dt.datetime, working_days: int) -> dt.datetime:
    """``working_days`` working days (Monday to Friday) before the meeting, at the same time of day."""
    due = meeting_at
    left = working_days
    while left > 0:
        due -= dt.timedelta(days=1)
        if due.weekday() < 5:
            left -= 1
    return due


@dataclass
class ResearchItemIn:
    """An item recorded as research, and how it is shared once the return is submitted."""

    category: Category
    nature: OneOf(NATURES, "say whether it is a fact or a professional opinion")
    text: Text(information.MAX_TEXT)
    sharing: OneOf(SHARING, "say whether it is shared now, at the meeting, or not shared (with the reason)") = "now"
    not_shared_reason: Text(2000) | None = None
    sensitivity: OneOf(SENSITIVITIES) | None = None


@dataclass
class ReturnIn:
    """The return submitted: what the agency found, and why not researched where it was not."""

    outcome: OneOf(RESEARCH_OUTCOMES, "say: information recorded, nothing held, or not researched")
    reason: Text(2000) | None = None


@dataclass
class ApologiesIn:
    """Apologies: an agency on a case of the agenda names who takes its actions from the meeting."""

    actions_person_id: Id | None = None


@dataclass(frozen=True)
class AgendaLine:
    """One case of the circulated agenda as one agency may read it: an agency not on the case
    sees its reference and risk only."""

    case_id: int
    reference: str
    risk_level: str
    on_case: bool
    initials: str | None  # only for an agency on the case
    outcome: str | None  # the agency's return: None until submitted
    late: bool


@dataclass(frozen=True)
class AgencyAgenda:
    conference_id: int
    title: str
    scheduled_at: dt.datetime
    research_due_at: dt.datetime | None
    circulated_at: dt.datetime | None
    agency: str | None
    lines: list[AgendaLine]
    can_circulate: bool


@dataclass(frozen=True)
class ReturnView:
    """An agency's return on one case, as the agency itself sees it (its items through the gate)."""

    conference_id: int
    case_id: int
    agency: str
    outcome: str | None
    reason: str | None
    submitted_at: dt.datetime | None
    late: bool
    research_due_at: dt.datetime | None
    items: list[ItemView]


@dataclass(frozen=True)
class AgencyReadiness:
    agency: str
    state: str  # one of READINESS
    late: bool  # returned after the deadline


@dataclass(frozen=True)
class CaseReadiness:
    case_id: int
    reference: str
    agencies: list[AgencyReadiness]


@dataclass(frozen=True)
class Readiness:
    """Per case on the agenda, per agency on it: what its research stands at."""

    conference_id: int
    research_due_at: dt.datetime | None
    circulated_at: dt.datetime | None
    cases: list[CaseReadiness]


@dataclass(frozen=True)
class NotShared:
    """An entry of the "not shared because" ledger: what is held back and why, never its text."""

    item_id: int
    agency: str
    category: str
    nature: str
    reason: str
    recorded_at: dt.datetime


async def invited_agencies(session: AsyncSession, conference_id: int) -> set[str]:
    return set((await session.execute(select(Participant.agency).where(
        Participant.conference_id == conference_id, Participant.agency.is_not(None)))).scalars())


async def circulate_agenda(session: AsyncSession, registry: AgencyRegistry, actor: Actor,
                           conference_id: int) -> Conference:
    """The chair (or a coordinator) sends the agenda to the invited agencies, with the research
    deadline; once, before the meeting (the conditional update decides between two at once)."""
    conference = await load_conference(session, conference_id)
    policy.require_organiser(actor, await participant_of(session, conference_id, actor.id), "circulate the agenda")
    if conference.status != "scheduled":
        raise Conflict(f"the conference is {conference.status}: the agenda is circulated before the meeting")
    now = utcnow()
    sent = await session.execute(update(Conference).where(
        Conference.id == conference_id, Conference.agenda_circulated_at.is_(None)).values(agenda_circulated_at=now))
    if sent.rowcount != 1:
        raise Conflict("the agenda has been circulated already")
    await session.refresh(conference)
    cases = list((await session.execute(select(AgendaItem.case_id).where(
        AgendaItem.conference_id == conference_id).order_by(AgendaItem.position))).scalars())
    await audit.record(session, actor, "conference.agenda_circulated", subject=f"conference:{conference_id}",
                       cases=cases, agencies=sorted(await invited_agencies(session, conference_id)),
                       research_due_at=conference.research_due_at)
    await notifications.notify(session, notifications.conference_notice(
        "agenda_circulated", f"agenda:conference:{conference_id}", conference_id, "/research"),
        users=await notifications.participants(session, conference_id), not_to=actor.id)
    events.conference_changed(session, conference_id, "agenda")
    return conference


async def _returns(session: AsyncSession, conference_id: int) -> dict[tuple[int, str], ResearchReturn]:
    rows = (await session.execute(select(ResearchReturn).where(ResearchReturn.conference_id == conference_id))).scalars()
    return {(r.case_id, r.agency): r for r in rows}


async def _agenda_cases(session: AsyncSession, conference_id: int) -> list[Case]:
    return list((await session.execute(
        select(Case).join(AgendaItem, AgendaItem.case_id == Case.id).where(AgendaItem.conference_id == conference_id)
        .order_by(AgendaItem.position).options(selectinload(Case.people), selectinload(Case.agencies))
    )).scalars())


async def agency_agenda(session: AsyncSession, actor: Actor, conference_id: int) -> AgencyAgenda:
    """The agenda as the actor's agency received it: per case its reference and risk, the
    survivor's initials and the agency's return where the agency is on the case, and the deadline."""
    conference = await load_conference(session, conference_id)
    participant = await participant_of(session, conference_id, actor.id)
    policy.require_agenda_reader(actor, participant, await invited_agencies(session, conference_id), conference_id)
    if conference.agenda_circulated_at is None and not policy.may_read_agenda_before_circulation(actor, participant):
        raise Conflict("the agenda has not been circulated yet")
    returns = await _returns(session, conference_id)
    lines = []
    for case in await _agenda_cases(session, conference_id):
        on_case = policy.on_case(actor.agency, [a.agency for a in case.agencies])
        found = returns.get((case.id, actor.agency or ""))
        submitted = found is not None and found.submitted_at is not None
        lines.append(AgendaLine(case_id=case.id, reference=case.reference, risk_level=case.risk_level,
                                on_case=on_case, initials=case.survivor_initials if on_case else None,
                                outcome=found.outcome if submitted else None, late=submitted and found.late))
    return AgencyAgenda(conference_id=conference.id, title=conference.title, scheduled_at=conference.scheduled_at,
                        research_due_at=conference.research_due_at, circulated_at=conference.agenda_circulated_at,
                        agency=actor.agency, lines=lines,
                        can_circulate=(policy.may_organise(actor, participant) and conference.status == "scheduled"
                                       and conference.agenda_circulated_at is None))


async def _research_case(session: AsyncSession, actor: Actor, conference_id: int, case_id: int) -> tuple[Conference, Case]:
    """The conference and a case on its circulated agenda that the actor's agency researches (404 otherwise)."""
    conference = await load_conference(session, conference_id)
    case = (await session.execute(
        select(Case).join(AgendaItem, AgendaItem.case_id == Case.id)
        .where(AgendaItem.conference_id == conference_id, Case.id == case_id).options(selectinload(Case.agencies))
    )).scalar()
    policy.require_research_on(actor, await invited_agencies(session, conference_id),
                               [a.agency for a in case.agencies] if case else [], case_id)
    return conference, case


def _require_open_for_returns(conference: Conference, case: Case) -> None:
    policy.require_open(case)  # a closed case takes no writes (409)
    if conference.agenda_circulated_at is None:
        raise Conflict("the agenda has not been circulated yet: research starts when it is")
    if conference.status == "ended":
        raise Conflict("the conference has ended")


async def _draft(session: AsyncSession, actor: Actor, conference_id: int, case_id: int) -> ResearchReturn:
    """The agency's return on the case, started as a draft if it has none. Two started at once:
    the unique (conference, case, agency) keeps one, and the loser reads it."""
    query = select(ResearchReturn).where(ResearchReturn.conference_id == conference_id,
                                         ResearchReturn.case_id == case_id, ResearchReturn.agency == actor.agency)
    found = (await session.execute(query)).scalar()
    if found is None:
        try:
            async with session.begin_nested():
                found = ResearchReturn(conference_id=conference_id, case_id=case_id, agency=actor.agency,
                                       created_by_id=actor.id)
                session.add(found)
        except IntegrityError:
            found = (await session.execute(query)).scalar_one()
    if found.submitted_at is not None:
        raise Conflict(f"your agency returned its research on this case at {found.submitted_at:%Y-%m-%d %H:%M} UTC: "
                       "a submitted return is not changed")
    return found


async def record_research_item(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                               case_id: int, data: ResearchItemIn) -> InformationItem:
    """An item of the agency's research on a case: part of its draft return, the agency's own
    until the return is submitted."""
    conference, case = await _research_case(session, actor, conference_id, case_id)
    _require_open_for_returns(conference, case)
    reason = (data.not_shared_reason or "").strip()
    if data.sharing == "not_shared" and not reason:
        raise Invalid("say why it is not shared", field="not_shared_reason")
    if data.sharing != "not_shared" and reason:
        raise Invalid("a reason goes only with an item that is not shared", field="not_shared_reason")
    draft = await _draft(session, actor, conference_id, case.id)
    item = await information.record_item(
        session, registry, actor, case.id,
        ItemIn(category=data.category, nature=data.nature, text=data.text, sensitivity=data.sensitivity),
        research=draft, sharing=data.sharing, not_shared_reason=reason or None)
    await audit.record(session, actor, "research.item_recorded", case_id=case.id, subject=f"item:{item.id}",
                       conference_id=conference_id, sharing=data.sharing)
    return item


async def submit_return(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                        case_id: int, data: ReturnIn) -> ResearchReturn:
    """The agency returns its research on the case; after the deadline it is accepted and marked late."""
    conference, case = await _research_case(session, actor, conference_id, case_id)
    _require_open_for_returns(conference, case)
    reason = (data.reason or "").strip()
    if data.outcome == "not_researched" and not reason:
        raise Invalid("say why the case was not researched", field="reason")
    if data.outcome != "not_researched" and reason:
        raise Invalid("a reason goes only with \"not researched\"", field="reason")
    draft = await _draft(session, actor, conference_id, case.id)
    items = (await session.execute(select(func.count()).select_from(InformationItem).where(
        InformationItem.research_return_id == draft.id))).scalar_one()
    if data.outcome == "information" and not items:
        raise Invalid("record the information first: this return holds no items yet", field="outcome")
    if data.outcome != "information" and items:
        raise Invalid(f"this return holds {items} item(s): submit it as information recorded", field="outcome")
    now = utcnow()
    submitted = await session.execute(update(ResearchReturn).where(
        ResearchReturn.id == draft.id, ResearchReturn.submitted_at.is_(None)).values(
        outcome=data.outcome, reason=reason or None, submitted_at=now, submitted_by_id=actor.id,
        late=conference.research_due_at is not None and now > conference.research_due_at))
    if submitted.rowcount != 1:
        raise Conflict("your agency's return on this case was submitted by someone else meanwhile")
    await session.refresh(draft)
    await audit.record(session, actor, "research.returned", case_id=case.id, subject=f"research:{draft.id}",
                       conference_id=conference_id, outcome=data.outcome, late=draft.late, items=items)
    events.case_changed(session, case.id, "items")  # its items now reach the agencies consent covers
    events.conference_changed(session, conference_id, "agenda")  # the chair's readiness view
    return draft


async def return_of(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                    case_id: int) -> ReturnView:
    """The actor's agency's return on the case, with its items as its own agency sees them."""
    conference, case = await _research_case(session, actor, conference_id, case_id)
    found = (await _returns(session, conference_id)).get((case.id, actor.agency or ""))
    item_ids = [] if found is None else list((await session.execute(select(InformationItem.id).where(
        InformationItem.research_return_id == found.id))).scalars())
    items = await gate.visible_items(session, registry, actor, case.id, channel="research", item_ids=item_ids)
    return ReturnView(conference_id=conference_id, case_id=case.id, agency=actor.agency,
                      outcome=found.outcome if found and found.submitted_at else None,
                      reason=found.reason if found else None, submitted_at=found.submitted_at if found else None,
                      late=bool(found and found.late), research_due_at=conference.research_due_at, items=items)


async def open_at_meeting(session: AsyncSession, actor: Actor, conference_id: int, case_id: int) -> None:
    """The chair opened a case in the meeting: the research its agencies held for it now passes the
    gate (the gate reads the case's start itself). Recorded, and open case pages are told, so a page
    left open on the case shows what was released without another change."""
    held = list((await session.execute(
        select(InformationItem.id).join(ResearchReturn, ResearchReturn.id == InformationItem.research_return_id)
        .where(ResearchReturn.conference_id == conference_id, ResearchReturn.case_id == case_id,
               ResearchReturn.submitted_at.is_not(None), InformationItem.sharing == "meeting")
        .order_by(InformationItem.id))).scalars())
    if held:
        await audit.record(session, actor, "research.shared_at_meeting", case_id=case_id,
                           subject=f"conference:{conference_id}", items=held)
        events.case_changed(session, case_id, "items")


def readiness_state(found: ResearchReturn | None, due_at: dt.datetime | None, now: dt.datetime) -> str:
    """One agency on one case: what it returned, else overdue past the deadline, else awaiting."""
    if found is not None and found.submitted_at is not None:
        return "returned" if found.outcome == "information" else found.outcome
    return "overdue" if due_at is not None and now > due_at else "awaiting"


async def readiness_by_case(session: AsyncSession, conference: Conference) -> list[CaseReadiness]:
    """Per case on the agenda (in its order) and agency on it, where its research stands now."""
    returns = await _returns(session, conference.id)
    now = utcnow()
    rows = []
    for case in await _agenda_cases(session, conference.id):
        states = []
        for agency in sorted(a.agency for a in case.agencies):
            found = returns.get((case.id, agency))
            states.append(AgencyReadiness(agency, readiness_state(found, conference.research_due_at, now),
                                          bool(found and found.submitted_at and found.late)))
        rows.append(CaseReadiness(case.id, case.reference, states))
    return rows


async def readiness(session: AsyncSession, actor: Actor, conference_id: int) -> Readiness:
    """The chair's view: per case on the agenda and agency on it, where its research stands."""
    conference = await load_conference(session, conference_id)
    policy.require_readiness_reader(actor, await participant_of(session, conference_id, actor.id))
    return Readiness(conference_id=conference.id, research_due_at=conference.research_due_at,
                     circulated_at=conference.agenda_circulated_at,
                     cases=await readiness_by_case(session, conference))


async def not_shared_ledger(session: AsyncSession, actor: Actor, case_id: int) -> list[NotShared]:
    """The items agencies hold back, with why (never their text): each agency sees its own entries,
    supervisors every agency's. The caller has checked the actor may see the case."""
    rows = (await session.execute(
        select(InformationItem.id, InformationItem.agency, InformationItem.category, InformationItem.nature,
               InformationItem.not_shared_reason, InformationItem.recorded_at)
        .join(ResearchReturn, ResearchReturn.id == InformationItem.research_return_id)
        .where(InformationItem.case_id == case_id, InformationItem.sharing == "not_shared",
               ResearchReturn.submitted_at.is_not(None), InformationItem.superseded.is_(False))
        .order_by(InformationItem.id))).all()
    return [NotShared(item_id, agency, category, nature, reason or "", at)
            for item_id, agency, category, nature, reason, at in rows if policy.may_read_not_shared(actor, agency)]


async def send_apologies(session: AsyncSession, actor: Actor, conference_id: int, data: ApologiesIn) -> None:
    """An invited person will not attend. If their agency is on a case of the agenda, its research
    goes to the meeting in their place (every return on those cases submitted first) and they name
    a person of their agency to take its actions; the minutes list both."""
    conference, participant = await invited(session, actor, conference_id)
    if conference.status == "ended":
        raise Conflict("the conference has ended")
    person_id = None
    if participant.agency is not None:
        returns = await _returns(session, conference_id)
        its_cases = [case for case in await _agenda_cases(session, conference_id)
                     if policy.on_case(participant.agency, [a.agency for a in case.agencies])]
        unreturned = [case.reference for case in its_cases
                      if (found := returns.get((case.id, participant.agency))) is None or found.submitted_at is None]
        if unreturned:
            raise Conflict("return your agency's research on " + ", ".join(unreturned) + " before sending apologies: "
                           "it goes to the meeting in your place")
        if its_cases:
            if data.actions_person_id is None:
                raise Invalid("name who takes your agency's actions from the meeting", field="actions_person_id")
            person = await active_user(session, data.actions_person_id, "actions_person_id")
            if person.agency != participant.agency:
                raise Invalid(f"{person.display_name} is not of your agency: name someone who is",
                              field="actions_person_id")
            person_id = person.id
    participant.apology, participant.actions_person_id = True, person_id
    await audit.record(session, actor, "conference.apologies", subject=f"conference:{conference_id}",
                       actions_person_id=person_id)
    events.conference_changed(session, conference_id, "participants")
