"""Scheduling a conference: the agenda in the order practice requires, the chair and the people
invited, and the list of conferences each person sees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from coordinator import audit, cases, gate, policy
from coordinator.accounts import actor_of
from coordinator.cases import MEETING
from coordinator.conference.participation import InviteIn, active_user, check_invite
from coordinator.conference.research import research_deadline
from coordinator.errors import Invalid
from coordinator.lifecycle import case_events
from coordinator.limits import Id, Key, ListOf, WrittenLine
from coordinator.models import AgendaItem, Case, Conference, HearingRequest, Participant, Task, User, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor
from coordinator.settings import Settings
from coordinator.tasks import CLOSED_STATUSES

AGENDA_GROUPS = ("children", "adults", "review")  # the order practice requires
RISK_ORDER = ("high", "medium", "standard")
REVIEW_AFTER = dt.timedelta(days=365)
# A meeting starting now is not "in the past": the form's time has minutes only, and people take a
# moment to fill it in.
PAST_AFTER = dt.timedelta(minutes=15)


@dataclass
class JoiningIn:
    """An invited agency the coordinator adds to a case on the agenda, on the ground it has there."""

    case_id: Id
    agency: Key


@dataclass
class ConferenceIn:
    title: WrittenLine(200, "give the conference a title of up to 200 characters")
    scheduled_at: dt.datetime
    chair_id: Id
    case_ids: ListOf(200, Id)
    participants: ListOf(500, InviteIn) = field(default_factory=list)
    # MARAC practice: every agency invited researches and hears every case on the list; each joins
    # a case only on a ground it has there (her consent, an override, the team's basis), ticked per case.
    joining: ListOf(2000, JoiningIn) = field(default_factory=list)
    # A time in the past is refused unless the coordinator confirms that the meeting took place
    # then and is recorded afterwards: a mistyped year or month is otherwise silently accepted.
    took_place: bool = False


def agenda_group(case: Case, on: dt.datetime) -> str:
    """Where practice puts a case on the agenda: a case open a year or more is due its 12-month
    review; otherwise cases with children come before adult-only cases."""
    if case.created_at <= on - REVIEW_AFTER:
        return "review"
    return "children" if case.has_children else "adults"


def agenda_order(found: Iterable[Case], on: dt.datetime) -> list[tuple[Case, str]]:
    """Children first, then adults, then reviews; within each, higher risk first."""
    grouped = [(case, agenda_group(case, on)) for case in found]
    return sorted(grouped, key=lambda cg: (AGENDA_GROUPS.index(cg[1]), RISK_ORDER.index(cg[0].risk_level), cg[0].id))


async def _agenda_cases(session: AsyncSession, case_ids: list[int]) -> list[Case]:
    if not case_ids:
        raise Invalid("put at least one case on the agenda", field="case_ids")
    found = list((await session.execute(
        select(Case).where(Case.id.in_(case_ids))
        .options(selectinload(Case.people), selectinload(Case.key_dates), selectinload(Case.agencies))
    )).scalars())
    missing = sorted(set(case_ids) - {c.id for c in found})
    if missing:
        raise Invalid(f"no case {', '.join(map(str, missing))}", field="case_ids")
    closed = [c.reference for c in found if c.closed_at is not None]
    if closed:
        raise Invalid(f"case {', '.join(closed)} is closed", field="case_ids")
    return found


async def schedule_conference(session: AsyncSession, registry: AgencyRegistry, actor: Actor,
                              data: ConferenceIn, *, research_days: int = Settings.research_days) -> Conference:
    """A coordinator schedules a conference: its agenda orders itself (``agenda_order``), the
    chair is a participant, and every person invited is too; its research deadline is
    ``research_days`` working days before. Each agency of ``joining`` (invited) joins its case (on
    the agenda) on the ground it has there; without one, nothing is scheduled."""
    policy.require_coordinator(actor, "schedule a conference")
    title = data.title.strip()
    if not title or len(title) > 200:
        raise Invalid("give the conference a title of up to 200 characters", field="title")
    if data.scheduled_at.tzinfo is None:
        raise Invalid("give the date and time with a time zone, e.g. 2026-12-01T10:00:00Z", field="scheduled_at")
    if data.scheduled_at < utcnow() - PAST_AFTER and not data.took_place:
        raise Invalid(f"{data.scheduled_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC is in the past: give a time from now "
                      "on, or confirm that the meeting took place then and is being recorded afterwards (took_place)",
                      field="scheduled_at")
    chair = await active_user(session, data.chair_id, "chair_id")
    if not policy.may_chair_conference(actor_of(chair)):
        raise Invalid(f"{chair.display_name} cannot chair: the chair must be a coordinator", field="chair_id")
    found = await _agenda_cases(session, list(dict.fromkeys(data.case_ids)))
    invited: dict[int, tuple[User, str]] = {}
    for i, invite in enumerate(data.participants):
        user = await active_user(session, invite.user_id, f"participants[{i}].user_id")
        check_invite(user, invite.role, f"participants[{i}].role")
        invited.setdefault(user.id, (user, invite.role))
    invited[chair.id] = (chair, "chair")
    joining = await _joining(session, registry, data.joining, found, {user.agency for user, _ in invited.values()})

    scheduled_at = data.scheduled_at.astimezone(dt.UTC)
    conference = Conference(title=title, scheduled_at=scheduled_at, chair_id=chair.id, created_by_id=actor.id,
                            research_due_at=research_deadline(scheduled_at, research_days))
    session.add(conference)
    await session.flush()
    for position, (case, group) in enumerate(agenda_order(found, conference.scheduled_at)):
        session.add(AgendaItem(conference_id=conference.id, case_id=case.id, position=position, group=group))
    for user, role in invited.values():
        session.add(Participant(conference_id=conference.id, user_id=user.id, agency=user.agency, role=role))
    # Duties due "before the meeting" that had no meeting to count from are due on this one's day.
    await session.execute(update(Task).where(
        Task.case_id.in_([c.id for c in found]), Task.due_rule == MEETING, Task.due_on.is_(None),
        Task.status.not_in(CLOSED_STATUSES)).values(due_on=conference.scheduled_at.date()))
    # The cases placed on this agenda leave the "to be heard" queue: their requests are answered.
    await session.execute(update(HearingRequest).where(
        HearingRequest.case_id.in_([c.id for c in found]), HearingRequest.conference_id.is_(None)
    ).values(conference_id=conference.id))
    await session.flush()
    await audit.record(session, actor, "conference.scheduled", subject=f"conference:{conference.id}",
                       scheduled_at=conference.scheduled_at, research_due_at=conference.research_due_at,
                       chair_id=chair.id, cases=[c.id for c in found],
                       participants=sorted(invited))
    for case, agency, ground in joining:
        await cases.join_case(session, registry, actor, case, agency, ground=ground)
    return conference


async def _joining(session: AsyncSession, registry: AgencyRegistry, wanted: list[JoiningIn], found: list[Case],
                   invited: set[str | None]) -> list[tuple[Case, str, str]]:
    """The agencies ticked to join cases on the agenda, each with its ground, checked before anything
    is written: an agency already on its case is left as it is."""
    on_agenda = {case.id: case for case in found}
    grounds = await gate.joining_grounds(session, list(on_agenda), utcnow())
    joining: dict[tuple[int, str], tuple[Case, str, str]] = {}
    for i, join in enumerate(wanted):
        where, case = f"joining[{i}]", on_agenda.get(join.case_id)
        if case is None:
            raise Invalid(f"case {join.case_id} is not on the agenda: only a case on the agenda is joined", field=where)
        if join.agency not in registry:
            raise Invalid(f"no agency {join.agency!r} is installed", field=where)
        name = registry.name(join.agency)
        if join.agency not in invited:
            raise Invalid(f"nobody of {name} is invited: invite its representative to add it to case {case.reference}",
                          field=where)
        if join.agency in cases.agencies_of(case) or (case.id, join.agency) in joining:
            continue
        ground = policy.require_join_ground(name, case.kind, case.reference,
                                            gate.grounds_for(grounds, case.id, join.agency), where)
        joining[case.id, join.agency] = (case, join.agency, ground)
    return list(joining.values())


@dataclass(frozen=True)
class SchedulingChoices:
    cases: list[Case]  # open cases, in agenda order: children first, then adults, then reviews; by risk
    users: list[User]  # active users with an agency, by agency and name
    queued: dict[int, list[str]]  # the cases waiting to be heard, with why: offered already ticked
    joinable: dict[int, dict[str, Joinable]]  # per case, each agency not on it


@dataclass(frozen=True)
class Joinable:
    """Whether an agency may join a case now: the ground it would join on, or why it may not."""

    ground: str | None
    why_not: str = ""


async def scheduling_choices(session: AsyncSession, registry: AgencyRegistry, actor: Actor) -> SchedulingChoices:
    """What the scheduling form offers: the open cases, the people who can be invited, and per case
    the agencies that may join it (and why the others may not)."""
    policy.require_coordinator(actor, "schedule a conference")
    open_cases = (await session.execute(
        select(Case).where(Case.closed_at.is_(None)).options(selectinload(Case.people), selectinload(Case.agencies))
        .order_by(Case.id.desc())
    )).scalars()
    # Offered in the order the agenda will take (children first), as the form says.
    ordered = [case for case, _ in agenda_order(open_cases, utcnow())]
    users = (await session.execute(
        select(User).where(User.active.is_(True), User.agency.is_not(None)).order_by(User.agency, User.display_name)
    )).scalars()
    grounds = await gate.joining_grounds(session, [case.id for case in ordered], utcnow())
    joinable = {case.id: {agency.key: _joinable(case, agency.key, registry, grounds)
                          for agency in registry if agency.key not in cases.agencies_of(case)}
                for case in ordered}
    return SchedulingChoices(ordered, list(users), await case_events.hearing_queue(session), joinable)


def _joinable(case: Case, agency: str, registry: AgencyRegistry, grounds: dict[tuple[int, str], list[str]]) -> Joinable:
    ground = policy.join_ground(case.kind, gate.grounds_for(grounds, case.id, agency))
    return Joinable(ground, "" if ground else policy.missing_join_ground(registry.name(agency), case.kind))


async def conferences_for(session: AsyncSession, actor: Actor) -> list[tuple[Conference, Participant | None]]:
    """The conferences on the actor's list: those they are invited to (coordinators see all, to
    organise them), newest first, each with the actor's own participant record if any."""
    query = (select(Conference, Participant)
             .outerjoin(Participant, (Participant.conference_id == Conference.id) & (Participant.user_id == actor.id))
             .order_by(Conference.scheduled_at.desc(), Conference.id.desc()))
    if not policy.coordinates(actor):
        query = query.where(Participant.id.is_not(None))
    return [(c, p) for c, p in (await session.execute(query))]
