"""A conference as it stands, read for a page, a live update or the API: the agenda, who is in
the room, and the current case with its role map, actions and notes. No UI fields, no viewer:
what each audience may see of it is decided where it is rendered."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from coordinator.conference.actions import carried_over
from coordinator.conference.participation import presence_cutoff
from coordinator.conference.roles import role_version
from coordinator.errors import NotFound
from coordinator.lifecycle import threat_plans
from coordinator.lifecycle.threat_plans import PlanWarning
from coordinator.models import (
    AgendaItem,
    Case,
    CaseAgency,
    Conference,
    ConferenceNote,
    LiveConnection,
    Participant,
    RoleAssignment,
    Task,
    User,
)
from coordinator.plugins import AgencyRegistry

# What a conference page is made of.
ASPECTS = ("status", "agenda", "presence", "case", "roles", "actions", "new_action", "notes")
CASE_ASPECTS = frozenset({"case", "roles", "actions", "new_action", "notes"})
EVERYTHING = frozenset(ASPECTS)


@dataclass(frozen=True)
class PersonView:
    participant_id: int
    user_id: int
    name: str
    agency: str | None
    role: str
    accepted: bool
    apology: bool
    present: bool
    joined: bool


@dataclass(frozen=True)
class AgendaEntry:
    id: int
    case_id: int
    reference: str
    group: str
    risk_level: str
    status: str
    carried_over: int  # incomplete actions from earlier conferences
    started_at: dt.datetime | None = None  # when the meeting moved to it


@dataclass(frozen=True)
class CaseLine:
    """A case's agenda line: all that an agency not part of the case sees of it."""

    reference: str
    risk_level: str


@dataclass(frozen=True)
class CaseSummary:
    id: int
    reference: str
    kind: str
    stage: str
    risk_level: str
    summary: str
    lead_agency: str | None
    people: list[tuple[str, str]]  # (role, name)
    key_dates: list[tuple[str, dt.date, str]]  # (kind, on, note)
    agencies: list[str]
    plan_warning: PlanWarning | None = None  # a threat-assessment plan's separation without containment


@dataclass(frozen=True)
class RoleView:
    key: str
    label: str
    able: list[str]  # agencies that can take it
    version: int  # 0 while nobody holds it
    agency: str | None
    person: str | None
    status: str | None  # proposed, confirmed, or None when vacant
    since: dt.datetime | None


@dataclass(frozen=True)
class ActionView:
    id: int
    case_id: int
    agency: str
    title: str
    domain: str
    due_on: dt.date | None
    status: str
    reason: str | None
    assignee: str | None
    version: int
    confirmed: bool
    carried_over: bool  # agreed in an earlier conference and still incomplete


@dataclass(frozen=True)
class NoteView:
    id: int
    kind: str
    text: str
    by: str
    at: dt.datetime
    corrects: int | None = None  # the version this one corrects


@dataclass
class ConferenceState:
    """One conference as it stands. Only the aspects asked for are loaded; the others stay None.
    Nothing here depends on the viewer: what an audience may see of it (the current case, its
    information items) is decided when it is rendered (``coordinator.web.live.render``)."""

    id: int
    title: str
    scheduled_at: dt.datetime
    status: str
    version: int
    chair_id: int
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    current_item_id: int | None
    current_case_id: int | None
    current_case_agencies: list[str] = field(default_factory=list)  # who may see the current case in full
    current_case_line: CaseLine | None = None  # what every audience sees of the current case
    agenda: list[AgendaEntry] | None = None
    participants: list[PersonView] | None = None
    case: CaseSummary | None = None
    roles: list[RoleView] | None = None
    actions: list[ActionView] | None = None
    notes: list[NoteView] | None = None
    # The people of each agency on the current case, to name in a role or an action: agency -> (id, name).
    people: dict[str, list[tuple[int, str]]] | None = None


# The statements every live update runs are built once, with their values as parameters: on
# SQLite, building a statement anew cost more than running it.
_CONFERENCE_ID, _CASE_ID = bindparam("conference_id"), bindparam("case_id")
_CARRIED = (select(func.count()).select_from(Task)
            .where(carried_over(_CONFERENCE_ID), Task.case_id == AgendaItem.case_id).scalar_subquery())
_AGENDA = (select(AgendaItem, Case.reference, Case.risk_level, _CARRIED).join(Case, Case.id == AgendaItem.case_id)
           .where(AgendaItem.conference_id == _CONFERENCE_ID).order_by(AgendaItem.position))
_CONFERENCE = (select(Conference, AgendaItem.case_id, Case.reference, Case.risk_level)
               .outerjoin(AgendaItem, AgendaItem.id == Conference.current_item_id)
               .outerjoin(Case, Case.id == AgendaItem.case_id)
               .where(Conference.id == _CONFERENCE_ID).execution_options(populate_existing=True))
_CASE_AGENCIES = select(CaseAgency.agency).where(CaseAgency.case_id == _CASE_ID)
_ACTIONS = (select(Task, User.display_name).outerjoin(User, User.id == Task.assignee_id)
            .where(Task.case_id == _CASE_ID, (Task.conference_id == _CONFERENCE_ID) | carried_over(_CONFERENCE_ID))
            .order_by(Task.conference_id != _CONFERENCE_ID, Task.due_on, Task.id))


async def load_agenda(session: AsyncSession, conference_id: int) -> list[AgendaEntry]:
    # One statement, the counts included: every agenda update reads it.
    rows = (await session.execute(_AGENDA, {"conference_id": conference_id})).all()
    return [AgendaEntry(id=item.id, case_id=item.case_id, reference=reference, group=item.group, risk_level=risk,
                        status=item.status, carried_over=count, started_at=item.started_at)
            for item, reference, risk, count in rows]


async def load_participants(session: AsyncSession, conference_id: int) -> list[PersonView]:
    present = set((await session.execute(
        select(LiveConnection.user_id).where(LiveConnection.conference_id == conference_id,
                                             LiveConnection.heartbeat_at >= presence_cutoff(session))
    )).scalars())
    rows = (await session.execute(
        select(Participant, User.display_name).join(User, User.id == Participant.user_id)
        .where(Participant.conference_id == conference_id).order_by(Participant.agency, User.display_name)
    )).all()
    return [PersonView(participant_id=p.id, user_id=p.user_id, name=name, agency=p.agency, role=p.role,
                       accepted=p.statement_accepted_at is not None, apology=p.apology, present=p.user_id in present,
                       joined=p.joined_at is not None) for p, name in rows]


async def load_case(session: AsyncSession, case_id: int) -> CaseSummary:
    case = (await session.execute(
        select(Case).where(Case.id == case_id)
        .options(selectinload(Case.people), selectinload(Case.key_dates), selectinload(Case.agencies))
    )).scalar_one()
    return CaseSummary(id=case.id, reference=case.reference, kind=case.kind, stage=case.stage,
                       risk_level=case.risk_level, summary=case.summary, lead_agency=case.lead_agency,
                       people=[(p.role, p.name) for p in case.people],
                       key_dates=[(k.kind, k.on, k.note) for k in case.key_dates],
                       agencies=[a.agency for a in case.agencies])


def role_views(registry: AgencyRegistry, holders: dict[str, tuple[RoleAssignment, str | None]]) -> list[RoleView]:
    views = []
    for responsibility in registry.responsibilities:
        held = holders.get(responsibility.key)
        assignment, person = held if held else (None, None)
        views.append(RoleView(
            key=responsibility.key, label=responsibility.label,
            able=[a.key for a in registry if registry.can_take(a.key, responsibility.key)],
            version=role_version(assignment), agency=assignment.agency if assignment else None, person=person,
            status=assignment.status if assignment else None, since=assignment.assigned_at if assignment else None))
    return views


async def load_roles(session: AsyncSession, registry: AgencyRegistry, case_id: int,
                      at: dt.datetime | None = None) -> list[RoleView]:
    """The role map of a case: now, or as it stood at ``at`` (from the history)."""
    query = (select(RoleAssignment, User.display_name).outerjoin(User, User.id == RoleAssignment.person_id)
             .where(RoleAssignment.case_id == case_id))
    if at is None:
        query = query.where(RoleAssignment.ended_at.is_(None))
    else:
        query = query.where(RoleAssignment.assigned_at <= at,
                            (RoleAssignment.ended_at.is_(None)) | (RoleAssignment.ended_at > at))
    holders = {a.responsibility: (a, name) for a, name in (await session.execute(query))}
    return role_views(registry, holders)


def action_view(task: Task, assignee: str | None, conference_id: int, status: str | None = None) -> ActionView:
    return ActionView(id=task.id, case_id=task.case_id, agency=task.agency, title=task.title, domain=task.domain,
                      due_on=task.due_on, status=status or task.status, reason=task.reason, assignee=assignee,
                      version=task.version, confirmed=task.confirmed_at is not None,
                      carried_over=task.conference_id != conference_id)


async def load_actions(session: AsyncSession, conference_id: int, case_id: int) -> list[ActionView]:
    """This conference's actions on the case, then those carried over from earlier ones."""
    rows = (await session.execute(_ACTIONS, {"conference_id": conference_id, "case_id": case_id})).all()
    return [action_view(task, name, conference_id) for task, name in rows]


async def load_notes(session: AsyncSession, conference_id: int, case_id: int,
                     at: dt.datetime | None = None) -> list[NoteView]:
    """The decisions and notes on a case, each in its newest version: now, or as they stood at ``at``
    (a correction made later is then not yet there, and what it corrects still stands)."""
    rows = (await session.execute(
        select(ConferenceNote, User.display_name).join(User, User.id == ConferenceNote.by_id)
        .where(ConferenceNote.conference_id == conference_id, ConferenceNote.case_id == case_id,
               *([] if at is None else [ConferenceNote.at <= at]))
        .order_by(ConferenceNote.id)
    )).all()
    corrected = {n.supersedes_id for n, _ in rows if n.supersedes_id is not None}
    return [NoteView(id=n.id, kind=n.kind, text=n.text, by=name, at=n.at, corrects=n.supersedes_id)
            for n, name in rows if n.id not in corrected]


async def load_corrections_after(session: AsyncSession, conference_id: int, case_id: int,
                                 at: dt.datetime) -> list[NoteView]:
    """Corrections made after ``at`` (the meeting's end): the minutes' dated addenda."""
    rows = (await session.execute(
        select(ConferenceNote, User.display_name).join(User, User.id == ConferenceNote.by_id)
        .where(ConferenceNote.conference_id == conference_id, ConferenceNote.case_id == case_id,
               ConferenceNote.at > at, ConferenceNote.supersedes_id.is_not(None))
        .order_by(ConferenceNote.id)
    )).all()
    return [NoteView(id=n.id, kind=n.kind, text=n.text, by=name, at=n.at, corrects=n.supersedes_id)
            for n, name in rows]


async def load_state(session: AsyncSession, registry: AgencyRegistry, conference_id: int,
                     aspects: Iterable[str] = EVERYTHING) -> ConferenceState:
    """The conference and the aspects asked for, read in one go (for a page or a live update)."""
    aspects = set(aspects)
    # The conference, its current case and that case's agenda line: one statement, read on every update.
    found = (await session.execute(_CONFERENCE, {"conference_id": conference_id})).first()
    if found is None:
        raise NotFound(f"no conference {conference_id}")
    conference, current_case_id, reference, risk_level = found
    state = ConferenceState(
        id=conference.id, title=conference.title, scheduled_at=conference.scheduled_at, status=conference.status,
        version=conference.version, chair_id=conference.chair_id, started_at=conference.started_at,
        ended_at=conference.ended_at, current_item_id=conference.current_item_id, current_case_id=current_case_id)
    if aspects & {"agenda", "status"}:
        state.agenda = await load_agenda(session, conference_id)
    if "presence" in aspects:
        state.participants = await load_participants(session, conference_id)
    if current_case_id is not None:
        state.current_case_agencies = list((await session.execute(
            _CASE_AGENCIES, {"case_id": current_case_id})).scalars())
        state.current_case_line = CaseLine(reference, risk_level)
        if "case" in aspects:
            state.case = await load_case(session, current_case_id)
            if state.case.kind == threat_plans.KIND:
                state.case = replace(state.case, plan_warning=await threat_plans.plan_warning(
                    session, registry, current_case_id))
        if "roles" in aspects:
            state.roles = await load_roles(session, registry, current_case_id)
        if "actions" in aspects:
            state.actions = await load_actions(session, conference_id, current_case_id)
        if "notes" in aspects:
            state.notes = await load_notes(session, conference_id, current_case_id)
        if aspects & {"roles", "new_action"}:  # the people one may name: not read for every change
            state.people = await load_people(session, state.current_case_agencies)
    return state


async def load_people(session: AsyncSession, agencies: list[str]) -> dict[str, list[tuple[int, str]]]:
    rows = (await session.execute(select(User.agency, User.id, User.display_name).where(
        User.agency.in_(agencies), User.active.is_(True)).order_by(User.agency, User.display_name))).all()
    people: dict[str, list[tuple[int, str]]] = {}
    for agency, user_id, name in rows:
        people.setdefault(agency, []).append((user_id, name))
    return people
