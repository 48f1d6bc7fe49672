"""The minutes of an ended conference: the record as it stood when the meeting ended, one
copy per reader's audience, information through the consent gate."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from coordinator import gate, policy
from coordinator.conference.actions import CONFERENCE_SOURCE
from coordinator.conference.participation import load_conference, participant_of
from coordinator.conference.state import (
    ActionView,
    NoteView,
    RoleView,
    action_view,
    load_agenda,
    load_corrections_after,
    load_notes,
    load_participants,
    load_roles,
)
from coordinator.errors import Conflict
from coordinator.gate import ItemView
from coordinator.lifecycle import threat_plans
from coordinator.lifecycle.threat_plans import PlanWarning
from coordinator.models import CaseAgency, InformationItem, Participant, Task, TaskEvent, User
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor, Audience
from coordinator.tasks import CLOSED_STATUSES


@dataclass(frozen=True)
class MinutesCase:
    reference: str
    group: str
    risk_level: str
    member: bool  # the reader's agency may see this case in full; if not, only the line above
    information: list[ItemView]
    roles: list[RoleView]
    actions: list[ActionView]
    decisions: list[NoteView]
    notes: list[NoteView]
    # A threat-assessment plan that kept a separation without containment or support, and why.
    plan_warning: PlanWarning | None = None
    addenda: list[NoteView] = field(default_factory=list)  # corrections made after the meeting, dated


@dataclass(frozen=True)
class Minutes:
    """The record of an ended conference as one agency may read it."""

    conference_id: int
    title: str
    scheduled_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime
    chair: str
    agency: str | None  # whose copy this is
    attendees: list[tuple[str | None, list[str]]]  # (agency, names of those who were in the room)
    apologies: list[tuple[str | None, str, str | None]]  # (agency, name, who takes the agency's actions)
    absent: list[tuple[str | None, str]]
    statement_accepted: list[tuple[str | None, str]]  # (agency, name): who accepted the confidentiality statement
    cases: list[MinutesCase]


async def _item_ids_as_they_stood(session: AsyncSession, case_id: int, at: dt.datetime) -> list[int]:
    """Per lineage, the id of the version that was current at ``at`` (later corrections are
    not in the minutes of an earlier meeting). Only these go to the gate, so the disclosure
    audit records exactly what the minutes show."""
    latest: dict[int, int] = {}
    rows = await session.execute(
        select(InformationItem.id, InformationItem.lineage_id)
        .where(InformationItem.case_id == case_id, InformationItem.recorded_at <= at).order_by(InformationItem.id))
    for item_id, lineage_id in rows:
        latest[lineage_id or item_id] = item_id
    return list(latest.values())


def _statuses_at(rows: list, at: dt.datetime) -> Select[tuple[int, str]]:
    """Each task's status as it stood at ``at``: the last event at or before it wins."""
    return (select(TaskEvent.task_id, TaskEvent.status)
            .where(TaskEvent.task_id.in_([task.id for task, _ in rows]), TaskEvent.at <= at).order_by(TaskEvent.id))


async def _actions_at(session: AsyncSession, conference_id: int, case_id: int, started_at: dt.datetime,
                      ended_at: dt.datetime) -> list[ActionView]:
    """Every action reviewed in the meeting, each with its status as it stood when it ended: those
    agreed in it, and those of earlier meetings still incomplete when it started (they were on the
    table: one set "not applicable" or "not taken" here is part of this meeting's record)."""
    rows = (await session.execute(
        select(Task, User.display_name).outerjoin(User, User.id == Task.assignee_id)
        .where(Task.case_id == case_id, Task.source == CONFERENCE_SOURCE,
               (Task.conference_id == conference_id) | (Task.created_at <= started_at))
        .order_by(Task.due_on, Task.id)
    )).all()
    at_start = dict((await session.execute(_statuses_at(rows, started_at))).all())
    at_end = dict((await session.execute(_statuses_at(rows, ended_at))).all())
    return [action_view(task, name, conference_id, at_end.get(task.id)) for task, name in rows
            if task.conference_id == conference_id or at_start.get(task.id) not in CLOSED_STATUSES]


async def minutes(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, conference_id: int) -> Minutes:
    """The minutes of an ended conference as the viewer's audience may read them: a case the
    viewer's agency is not part of shows its agenda line only, and information passes the
    consent gate as it stands now (a withdrawal takes effect on the minutes too)."""
    participant = await participant_of(session, conference_id, viewer.id)
    policy.require_minutes_reader(viewer, participant, conference_id)
    conference = await load_conference(session, conference_id)
    if conference.status != "ended" or conference.ended_at is None:
        raise Conflict("the minutes are produced when the conference ends")
    audience = Audience.of_reader(viewer, participant)
    ended_at = conference.ended_at
    people = await load_participants(session, conference_id)
    by_agency: dict[str | None, list[str]] = {}
    for person in people:
        if person.joined:
            by_agency.setdefault(person.agency, []).append(person.name)
    chair = next((p.name for p in people if p.user_id == conference.chair_id), "")
    actions_person = aliased(User)
    actions_by = dict((await session.execute(
        select(Participant.id, actions_person.display_name).join(actions_person, actions_person.id ==
                                                                 Participant.actions_person_id)
        .where(Participant.conference_id == conference_id))).all())
    cases = []
    for entry in await load_agenda(session, conference_id):
        if entry.status != "discussed":
            continue
        agencies = (await session.execute(select(CaseAgency.agency).where(CaseAgency.case_id == entry.case_id))).scalars()
        if not policy.may_see_agenda_case(audience, list(agencies)):
            cases.append(MinutesCase(reference=entry.reference, group=entry.group, risk_level=entry.risk_level,
                                     member=False, information=[], roles=[], actions=[], decisions=[], notes=[]))
            continue
        all_notes = await load_notes(session, conference_id, entry.case_id, at=ended_at)
        items = await gate.visible_items(
            session, registry, viewer, entry.case_id, channel="minutes", include_superseded=True,
            item_ids=await _item_ids_as_they_stood(session, entry.case_id, ended_at))
        cases.append(MinutesCase(
            reference=entry.reference, group=entry.group, risk_level=entry.risk_level, member=True,
            information=items,
            roles=[r for r in await load_roles(session, registry, entry.case_id, at=ended_at) if r.agency],
            actions=await _actions_at(session, conference_id, entry.case_id,
                                      conference.started_at or ended_at, ended_at),
            decisions=[n for n in all_notes if n.kind == "decision"], notes=[n for n in all_notes if n.kind == "note"],
            plan_warning=await threat_plans.plan_warning(session, registry, entry.case_id, at=ended_at),
            addenda=await load_corrections_after(session, conference_id, entry.case_id, ended_at)))
    return Minutes(
        conference_id=conference.id, title=conference.title, scheduled_at=conference.scheduled_at,
        started_at=conference.started_at, ended_at=ended_at, chair=chair, agency=viewer.agency,
        attendees=list(by_agency.items()),
        apologies=[(p.agency, p.name, actions_by.get(p.participant_id)) for p in people if p.apology and not p.joined],
        absent=[(p.agency, p.name) for p in people if not p.apology and not p.joined],
        statement_accepted=[(p.agency, p.name) for p in people if p.accepted], cases=cases)
