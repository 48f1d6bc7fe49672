"""The live case conference: scheduling and the agenda, participants and the confidentiality
statement, the chair's running of the meeting, the role map, actions, decisions, and minutes.

Every change is checked against the version the actor saw (the conference, the role, the
action), so a concurrent edit is refused with the current state instead of being overwritten.
Each change returns a ``Changed``: which aspects of the conference moved, for the caller to
publish once the transaction has committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from coordinator import audit, sharing, tasks
from coordinator.audit import Actor
from coordinator.cases import COORDINATING_ROLES, require_coordinator
from coordinator.errors import Conflict, Forbidden, Invalid, NotFound
from coordinator.models import (
    AgendaItem,
    Case,
    Conference,
    ConferenceNote,
    InformationItem,
    Participant,
    RoleAssignment,
    Task,
    TaskEvent,
    User,
    utcnow,
)
from coordinator.plugins import AgencyRegistry
from coordinator.sharing import ItemView
from coordinator.tasks import CLOSED_STATUSES, TaskIn

PARTICIPANT_ROLES = ("chair", "coordinator", "minute_taker", "representative", "advocate", "observer")
CHAIRING_ROLES = ("chair", "coordinator")
NOTE_TAKING_ROLES = ("chair", "coordinator", "minute_taker")
NOTE_KINDS = ("decision", "note")
AGENDA_GROUPS = ("children", "adults", "review")  # the order practice requires
RISK_ORDER = ("high", "medium", "standard")
REVIEW_AFTER = dt.timedelta(days=365)
CONFERENCE_SOURCE = "conference"

# What a live page is made of; a change names the aspects it moved.
ASPECTS = ("status", "agenda", "presence", "case", "roles", "actions", "notes")
CASE_ASPECTS = frozenset({"case", "roles", "actions", "notes"})
EVERYTHING = frozenset(ASPECTS)

CONFIDENTIALITY_STATEMENT = (
    "Information shared in this conference is confidential. It is shared only to keep the people "
    "in these cases safe, on the basis the survivor consented to or the law allows. I will not "
    "record, copy or pass on anything I see or hear here except as agreed in the action plan, and "
    "I will keep what I learn within my agency's duty to act on it."
)


class StatementNeeded(Forbidden):
    """The participant has not yet accepted the confidentiality statement."""


@dataclass(frozen=True)
class Changed:
    """What a committed change moved: the caller publishes it to every open page."""

    conference_id: int
    aspects: frozenset[str]


# --- inputs --------------------------------------------------------------------------------

@dataclass
class InviteIn:
    user_id: int
    role: str = "representative"


@dataclass
class ConferenceIn:
    title: str
    scheduled_at: dt.datetime
    chair_id: int
    case_ids: list[int]
    participants: list[InviteIn] = field(default_factory=list)


@dataclass
class VersionIn:
    version: int


@dataclass
class MoveIn:
    item_id: int
    version: int


@dataclass
class AgendaOrderIn:
    order: list[int]  # agenda item ids, first to last
    version: int


@dataclass
class RoleIn:
    """The chair assigns (or reassigns) ``responsibility`` on a case. ``version`` is the role's
    version as the chair saw it (0 while nobody holds it)."""

    case_id: int
    responsibility: str
    agency: str
    version: int
    person_id: int | None = None


@dataclass
class RoleSlotIn:
    """Volunteer for, or confirm, one responsibility on a case, at the version seen."""

    case_id: int
    responsibility: str
    version: int


@dataclass
class ActionIn:
    case_id: int
    agency: str
    title: str
    domain: str
    due_on: dt.date | None = None
    assignee_id: int | None = None


@dataclass
class ActionStatusIn:
    task_id: int
    status: str
    version: int
    reason: str | None = None


@dataclass
class ActionConfirmIn:
    task_id: int
    version: int


@dataclass
class NoteIn:
    case_id: int
    kind: str
    text: str


# --- loading and permission checks --------------------------------------------------------------

async def _conference(session: AsyncSession, conference_id: int, *, lock: bool = False) -> Conference:
    query = select(Conference).where(Conference.id == conference_id).execution_options(populate_existing=True)
    if lock:  # serialise changes to one conference (a no-op on SQLite, which serialises writers)
        query = query.with_for_update()
    conference = (await session.execute(query)).scalar()
    if conference is None:
        raise NotFound(f"no conference {conference_id}")
    return conference


async def _participant_of(session: AsyncSession, conference_id: int, user_id: int | None) -> Participant | None:
    if user_id is None:
        return None
    return (await session.execute(
        select(Participant).where(Participant.conference_id == conference_id, Participant.user_id == user_id)
    )).scalar()


async def admitted_participant(session: AsyncSession, conference_id: int, actor: Actor) -> Participant:
    """The actor's participant record, if they are invited and have accepted the statement."""
    await _conference(session, conference_id)
    participant = await _participant_of(session, conference_id, actor.id)
    if participant is None:
        raise Forbidden("you are not invited to this conference")
    if participant.statement_accepted_at is None:
        raise StatementNeeded("accept the confidentiality statement before you join the conference")
    return participant


def _require_chair(participant: Participant, doing: str) -> None:
    if participant.role not in CHAIRING_ROLES:
        raise Forbidden(f"only the chair can {doing}")


def _require_status(conference: Conference, status: str, doing: str) -> None:
    if conference.status != status:
        raise Conflict(f"the conference is {conference.status}: you can {doing} only while it is {status}")


def _check_version(current: int, seen: int, what: str) -> None:
    if current != seen:
        raise Conflict(f"{what} was changed by someone else meanwhile (you saw version {seen}, it is now "
                       f"version {current}); the current state is shown: check it and try again", field="version")


async def _agenda_case_ids(session: AsyncSession, conference_id: int) -> list[int]:
    return list((await session.execute(
        select(AgendaItem.case_id).where(AgendaItem.conference_id == conference_id)
    )).scalars())


async def _require_on_agenda(session: AsyncSession, conference_id: int, case_id: int) -> None:
    if case_id not in await _agenda_case_ids(session, conference_id):
        raise Invalid(f"case {case_id} is not on this conference's agenda", field="case_id")


async def _live_participant(session: AsyncSession, conference_id: int, actor: Actor, *, lock: bool = False
                            ) -> tuple[Conference, Participant]:
    """For changes made during the meeting: the conference must be live, the actor admitted."""
    participant = await admitted_participant(session, conference_id, actor)
    conference = await _conference(session, conference_id, lock=lock)
    _require_status(conference, "live", "change it")
    return conference, participant


# --- scheduling ------------------------------------------------------------------------------

def agenda_group(case: Case, on: dt.datetime) -> str:
    """Where practice puts a case on the agenda: a case open a year or more is due its 12-month
    review; otherwise cases with children come before adult-only cases."""
    if case.created_at <= on - REVIEW_AFTER:
        return "review"
    return "children" if case.has_children else "adults"


def agenda_order(cases: Iterable[Case], on: dt.datetime) -> list[tuple[Case, str]]:
    """Children first, then adults, then reviews; within each, higher risk first."""
    grouped = [(case, agenda_group(case, on)) for case in cases]
    return sorted(grouped, key=lambda cg: (AGENDA_GROUPS.index(cg[1]), RISK_ORDER.index(cg[0].risk_level), cg[0].id))


async def _user(session: AsyncSession, user_id: int, field_name: str) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise Invalid(f"no active user {user_id}", field=field_name)
    return user


def _check_invite_role(role: str, field_name: str) -> None:
    if role not in PARTICIPANT_ROLES or role == "chair":
        raise Invalid(f"a participant's role must be one of {', '.join(PARTICIPANT_ROLES[1:])}", field=field_name)


async def schedule_conference(session: AsyncSession, actor: Actor, data: ConferenceIn) -> Conference:
    """A coordinator schedules a conference: its agenda orders itself (``agenda_order``), the
    chair is a participant, and every person invited is too."""
    require_coordinator(actor, "schedule a conference")
    title = data.title.strip()
    if not title or len(title) > 200:
        raise Invalid("give the conference a title of up to 200 characters", field="title")
    if data.scheduled_at.tzinfo is None:
        raise Invalid("give the date and time with a time zone, e.g. 2026-12-01T10:00:00Z", field="scheduled_at")
    chair = await _user(session, data.chair_id, "chair_id")
    if chair.role not in COORDINATING_ROLES:
        raise Invalid(f"{chair.display_name} cannot chair: the chair must be a coordinator", field="chair_id")
    case_ids = list(dict.fromkeys(data.case_ids))
    if not case_ids:
        raise Invalid("put at least one case on the agenda", field="case_ids")
    found = list((await session.execute(
        select(Case).where(Case.id.in_(case_ids)).options(selectinload(Case.people))
    )).scalars())
    missing = sorted(set(case_ids) - {c.id for c in found})
    if missing:
        raise Invalid(f"no case {', '.join(map(str, missing))}", field="case_ids")
    closed = [c.reference for c in found if c.closed_at is not None]
    if closed:
        raise Invalid(f"case {', '.join(closed)} is closed", field="case_ids")
    invites: dict[int, str] = {}
    for i, invite in enumerate(data.participants):
        _check_invite_role(invite.role, f"participants[{i}].role")
        await _user(session, invite.user_id, f"participants[{i}].user_id")
        invites.setdefault(invite.user_id, invite.role)
    invites[chair.id] = "chair"

    conference = Conference(title=title, scheduled_at=data.scheduled_at.astimezone(dt.UTC), chair_id=chair.id,
                            created_by_id=actor.id)
    session.add(conference)
    await session.flush()
    for position, (case, group) in enumerate(agenda_order(found, conference.scheduled_at)):
        session.add(AgendaItem(conference_id=conference.id, case_id=case.id, position=position, group=group))
    users = {u.id: u for u in (await session.execute(select(User).where(User.id.in_(invites)))).scalars()}
    for user_id, role in invites.items():
        session.add(Participant(conference_id=conference.id, user_id=user_id, agency=users[user_id].agency, role=role))
    await session.flush()
    await audit.record(session, actor, "conference.scheduled", subject=f"conference:{conference.id}", title=title,
                       scheduled_at=conference.scheduled_at, chair_id=chair.id, cases=case_ids,
                       participants=sorted(invites))
    return conference


async def _require_organiser(session: AsyncSession, conference: Conference, actor: Actor, doing: str) -> None:
    """Before and during the meeting, the chair or any coordinator organises it."""
    if actor.role in COORDINATING_ROLES:
        return
    participant = await _participant_of(session, conference.id, actor.id)
    if participant is None or participant.role not in CHAIRING_ROLES:
        raise Forbidden(f"only the chair or a coordinator can {doing}")


async def invite_participant(session: AsyncSession, actor: Actor, conference_id: int, invite: InviteIn) -> Changed:
    conference = await _conference(session, conference_id)
    await _require_organiser(session, conference, actor, "invite people")
    if conference.status == "ended":
        raise Conflict("the conference has ended")
    _check_invite_role(invite.role, "role")
    user = await _user(session, invite.user_id, "user_id")
    if await _participant_of(session, conference_id, user.id) is not None:
        raise Conflict(f"{user.display_name} is already invited", field="user_id")
    session.add(Participant(conference_id=conference_id, user_id=user.id, agency=user.agency, role=invite.role))
    await audit.record(session, actor, "conference.invited", subject=f"conference:{conference_id}",
                       user_id=user.id, role=invite.role)
    return Changed(conference_id, frozenset({"presence"}))


async def send_apologies(session: AsyncSession, actor: Actor, conference_id: int) -> Changed:
    """An invited person sends their apologies: they will not attend (the minutes say so)."""
    conference = await _conference(session, conference_id)
    if conference.status == "ended":
        raise Conflict("the conference has ended")
    participant = await _participant_of(session, conference_id, actor.id)
    if participant is None:
        raise Forbidden("you are not invited to this conference")
    participant.apology = True
    await audit.record(session, actor, "conference.apologies", subject=f"conference:{conference_id}")
    return Changed(conference_id, frozenset({"presence"}))


async def accept_statement(session: AsyncSession, actor: Actor, conference_id: int) -> Participant:
    """Record, once per conference, that the participant accepted the confidentiality statement."""
    await _conference(session, conference_id)
    participant = await _participant_of(session, conference_id, actor.id)
    if participant is None:
        raise Forbidden("you are not invited to this conference")
    if participant.statement_accepted_at is None:
        participant.statement_accepted_at = utcnow()
        participant.apology = False
        await audit.record(session, actor, "conference.statement_accepted", subject=f"conference:{conference_id}")
    return participant


@dataclass(frozen=True)
class SchedulingChoices:
    cases: list[Case]  # open cases, newest first
    users: list[User]  # active users with an agency, by agency and name


async def scheduling_choices(session: AsyncSession, actor: Actor) -> SchedulingChoices:
    """What the scheduling form offers: the open cases and the people who can be invited."""
    require_coordinator(actor, "schedule a conference")
    cases = (await session.execute(
        select(Case).where(Case.closed_at.is_(None)).options(selectinload(Case.people)).order_by(Case.id.desc())
    )).scalars()
    users = (await session.execute(
        select(User).where(User.active.is_(True), User.agency.is_not(None)).order_by(User.agency, User.display_name)
    )).scalars()
    return SchedulingChoices(list(cases), list(users))


async def conferences_for(session: AsyncSession, actor: Actor) -> list[tuple[Conference, Participant | None]]:
    """The conferences on the actor's dashboard: those they are invited to (coordinators see all),
    newest first, each with the actor's own participant record if any."""
    query = (select(Conference, Participant)
             .outerjoin(Participant, (Participant.conference_id == Conference.id) & (Participant.user_id == actor.id))
             .order_by(Conference.scheduled_at.desc(), Conference.id.desc()))
    if actor.role not in COORDINATING_ROLES:
        query = query.where(Participant.id.is_not(None))
    return [(c, p) for c, p in (await session.execute(query))]


# --- running the meeting -------------------------------------------------------------------------

async def _agenda(session: AsyncSession, conference_id: int) -> list[AgendaItem]:
    return list((await session.execute(
        select(AgendaItem).where(AgendaItem.conference_id == conference_id).order_by(AgendaItem.position)
    )).scalars())


async def _require_actions_confirmed(session: AsyncSession, registry: AgencyRegistry, conference: Conference,
                                     item: AgendaItem | None) -> None:
    """A case closes on the agenda only once each owning agency has confirmed its actions."""
    if item is None:
        return
    waiting = (await session.execute(
        select(Task.agency).where(Task.conference_id == conference.id, Task.case_id == item.case_id,
                                  Task.confirmed_at.is_(None)).distinct().order_by(Task.agency)
    )).scalars().all()
    if waiting:
        raise Conflict("each agency must confirm its actions before the case closes: waiting for "
                       + ", ".join(registry.name(a) for a in waiting))


async def start_conference(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                           data: VersionIn) -> Changed:
    """The chair starts the meeting at the first case on the agenda."""
    participant = await admitted_participant(session, conference_id, actor)
    _require_chair(participant, "start the conference")
    conference = await _conference(session, conference_id, lock=True)
    _check_version(conference.version, data.version, "the conference")
    _require_status(conference, "scheduled", "start it")
    agenda = await _agenda(session, conference_id)
    agenda[0].status = "current"
    conference.current_item_id = agenda[0].id
    conference.status, conference.started_at = "live", utcnow()
    conference.version += 1
    await audit.record(session, actor, "conference.started", subject=f"conference:{conference_id}")
    return Changed(conference_id, EVERYTHING)


async def move_to_case(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                       move: MoveIn) -> Changed:
    """The chair moves the meeting to another case; every page follows."""
    conference, participant = await _live_participant(session, conference_id, actor, lock=True)
    _require_chair(participant, "move the conference to another case")
    _check_version(conference.version, move.version, "the conference")
    agenda = {item.id: item for item in await _agenda(session, conference_id)}
    target = agenda.get(move.item_id)
    if target is None:
        raise Invalid(f"agenda item {move.item_id} is not on this conference's agenda", field="item_id")
    if target.id == conference.current_item_id:
        raise Conflict("the conference is already on that case", field="item_id")
    current = agenda.get(conference.current_item_id or 0)
    await _require_actions_confirmed(session, registry, conference, current)
    if current is not None:
        current.status = "discussed"
    target.status = "current"
    conference.current_item_id = target.id
    conference.version += 1
    await audit.record(session, actor, "conference.moved", case_id=target.case_id,
                       subject=f"conference:{conference_id}", item_id=target.id)
    return Changed(conference_id, CASE_ASPECTS | {"status", "agenda"})


async def reorder_agenda(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                         data: AgendaOrderIn) -> Changed:
    """Put the agenda in the order given by hand (every item exactly once)."""
    conference = await _conference(session, conference_id, lock=True)
    await _require_organiser(session, conference, actor, "reorder the agenda")
    if conference.status == "ended":
        raise Conflict("the conference has ended")
    _check_version(conference.version, data.version, "the agenda")
    items = {item.id: item for item in await _agenda(session, conference_id)}
    if sorted(data.order) != sorted(items):
        raise Invalid("give every agenda item exactly once", field="order")
    for position, item_id in enumerate(data.order):
        items[item_id].position = position
    conference.version += 1
    await audit.record(session, actor, "conference.agenda_reordered", subject=f"conference:{conference_id}",
                       order=data.order)
    return Changed(conference_id, frozenset({"agenda", "status"}))


async def end_conference(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                         data: VersionIn) -> Changed:
    """The chair ends the meeting; the minutes can be downloaded at once."""
    conference, participant = await _live_participant(session, conference_id, actor, lock=True)
    _require_chair(participant, "end the conference")
    _check_version(conference.version, data.version, "the conference")
    agenda = {item.id: item for item in await _agenda(session, conference_id)}
    current = agenda.get(conference.current_item_id or 0)
    await _require_actions_confirmed(session, registry, conference, current)
    if current is not None:
        current.status = "discussed"
    conference.current_item_id = None
    conference.status, conference.ended_at = "ended", utcnow()
    conference.version += 1
    await audit.record(session, actor, "conference.ended", subject=f"conference:{conference_id}")
    return Changed(conference_id, EVERYTHING)


# --- presence ------------------------------------------------------------------------------------

async def enter_room(session: AsyncSession, actor: Actor, conference_id: int) -> Changed:
    """An admitted participant's page connected: they are in the room."""
    participant = await admitted_participant(session, conference_id, actor)
    await session.execute(update(Participant).where(Participant.id == participant.id)
                          .values(connections=Participant.connections + 1))
    if participant.joined_at is None:
        participant.joined_at = utcnow()
    await audit.record(session, actor, "conference.entered", subject=f"conference:{conference_id}")
    return Changed(conference_id, frozenset({"presence"}))


async def leave_room(session: AsyncSession, actor: Actor, conference_id: int) -> Changed:
    """A participant's page disconnected (closed, network lost): one connection fewer."""
    await session.execute(update(Participant).where(
        Participant.conference_id == conference_id, Participant.user_id == actor.id, Participant.connections > 0,
    ).values(connections=Participant.connections - 1))
    await audit.record(session, actor, "conference.left", subject=f"conference:{conference_id}")
    return Changed(conference_id, frozenset({"presence"}))


# --- role map ------------------------------------------------------------------------------------

async def _current_role(session: AsyncSession, case_id: int, responsibility: str) -> RoleAssignment | None:
    # Lock the case row first, so two changes of one role never both read the same holder.
    await session.execute(select(Case.id).where(Case.id == case_id).with_for_update())
    return (await session.execute(
        select(RoleAssignment).where(RoleAssignment.case_id == case_id, RoleAssignment.responsibility == responsibility,
                                     RoleAssignment.ended_at.is_(None))
        .execution_options(populate_existing=True)
    )).scalar()


def _role_version(assignment: RoleAssignment | None) -> int:
    return assignment.version if assignment else 0


def _responsibility_label(registry: AgencyRegistry, key: str) -> str:
    for responsibility in registry.responsibilities:
        if responsibility.key == key:
            return responsibility.label
    raise Invalid(f"no agency declares the responsibility {key!r}", field="responsibility")


def _check_role_version(registry: AgencyRegistry, assignment: RoleAssignment | None, seen: int, key: str) -> None:
    if _role_version(assignment) != seen:
        holder = (f"now held by {registry.name(assignment.agency)} ({assignment.status})" if assignment
                  else "now vacant")
        _check_version(_role_version(assignment), seen, f"the role {_responsibility_label(registry, key)} ({holder})")


async def _replace_role(session: AsyncSession, conference_id: int, actor: Actor, previous: RoleAssignment | None, *,
                        case_id: int, responsibility: str, agency: str, person_id: int | None, status: str
                        ) -> RoleAssignment:
    """End the previous holder (kept as history) and record the new one."""
    now = utcnow()
    if previous is not None:
        previous.ended_at = now
    assignment = RoleAssignment(case_id=case_id, responsibility=responsibility, agency=agency, person_id=person_id,
                                status=status, conference_id=conference_id, assigned_by_id=actor.id, assigned_at=now,
                                version=_role_version(previous) + 1)
    session.add(assignment)
    await session.flush()
    await audit.record(session, actor, f"role.{'assigned' if status == 'confirmed' else 'proposed'}", case_id=case_id,
                       subject=f"role:{assignment.id}", responsibility=responsibility, agency=agency,
                       person_id=person_id, previous=previous.agency if previous else None)
    return assignment


async def _role_in_play(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                        case_id: int, responsibility: str, *, chair_only: str | None) -> tuple[Participant, str]:
    """Checks common to every role-map change: the meeting is live, the actor admitted (and
    the chair, when ``chair_only`` names what is being done), the case on the agenda and the
    responsibility declared. Returns the actor's participant record and the role's label."""
    _, participant = await _live_participant(session, conference_id, actor)
    if chair_only:
        _require_chair(participant, chair_only)
    await _require_on_agenda(session, conference_id, case_id)
    return participant, _responsibility_label(registry, responsibility)


async def _role_as_seen(session: AsyncSession, registry: AgencyRegistry, case_id: int, responsibility: str,
                        version: int) -> RoleAssignment | None:
    """The role's current holder, locked, provided it is still the version the actor saw."""
    current = await _current_role(session, case_id, responsibility)
    _check_role_version(registry, current, version, responsibility)
    return current


async def assign_role(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                      data: RoleIn) -> Changed:
    """The chair gives a responsibility on a case to an agency (and optionally a named person)."""
    _, label = await _role_in_play(session, registry, actor, conference_id, data.case_id, data.responsibility,
                                   chair_only="assign roles")
    if not registry.can_take(data.agency, data.responsibility):
        raise Invalid(f"{registry.name(data.agency)} cannot take {label}", field="agency")
    if data.person_id is not None:
        person = await session.get(User, data.person_id)
        if person is None or person.agency != data.agency:
            raise Invalid(f"the person must be someone of {registry.name(data.agency)}", field="person_id")
    current = await _role_as_seen(session, registry, data.case_id, data.responsibility, data.version)
    await _replace_role(session, conference_id, actor, current, case_id=data.case_id,
                        responsibility=data.responsibility, agency=data.agency, person_id=data.person_id,
                        status="confirmed")
    return Changed(conference_id, frozenset({"roles"}))


async def volunteer_for_role(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                             data: RoleSlotIn) -> Changed:
    """A representative proposes their own agency for a vacant (or only proposed) role; the
    chair confirms it."""
    participant, label = await _role_in_play(session, registry, actor, conference_id, data.case_id,
                                             data.responsibility, chair_only=None)
    if participant.agency is None or not registry.can_take(participant.agency, data.responsibility):
        raise Forbidden(f"your agency cannot take {label}")
    current = await _role_as_seen(session, registry, data.case_id, data.responsibility, data.version)
    if current is not None and current.status == "confirmed":
        raise Conflict(f"{label} is already held by {registry.name(current.agency)}: ask the chair to reassign it")
    await _replace_role(session, conference_id, actor, current, case_id=data.case_id,
                        responsibility=data.responsibility, agency=participant.agency, person_id=actor.id,
                        status="proposed")
    return Changed(conference_id, frozenset({"roles"}))


async def confirm_role(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                       data: RoleSlotIn) -> Changed:
    """The chair confirms an agency's offer to take a role."""
    _, label = await _role_in_play(session, registry, actor, conference_id, data.case_id, data.responsibility,
                                   chair_only="confirm roles")
    current = await _role_as_seen(session, registry, data.case_id, data.responsibility, data.version)
    if current is None or current.status != "proposed":
        raise Conflict(f"nobody has offered to take {label}")
    current.status = "confirmed"
    current.version += 1
    await audit.record(session, actor, "role.confirmed", case_id=data.case_id, subject=f"role:{current.id}",
                       responsibility=data.responsibility, agency=current.agency)
    return Changed(conference_id, frozenset({"roles"}))


# --- actions and notes ---------------------------------------------------------------------------

async def add_action(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                     data: ActionIn) -> Changed:
    """The chair (for any agency) or a representative (for their own) adds a timed action. It
    is a task of the owning agency, so it is on that agency's task list too."""
    _, participant = await _live_participant(session, conference_id, actor)
    if participant.role not in CHAIRING_ROLES and participant.agency != data.agency:
        raise Forbidden("you can add actions for your own agency only; the chair can add them for any agency")
    await _require_on_agenda(session, conference_id, data.case_id)
    if data.due_on is None:
        raise Invalid("give the action a due date", field="due_on")
    await tasks.assign_task(session, registry, actor, data.case_id,
                            TaskIn(agency=data.agency, title=data.title, domain=data.domain, due_on=data.due_on,
                                   assignee_id=data.assignee_id),
                            source=CONFERENCE_SOURCE, conference_id=conference_id)
    return Changed(conference_id, frozenset({"actions"}))


async def _conference_action(session: AsyncSession, conference_id: int, task_id: int) -> Task:
    """An action of a case on this agenda, locked for the change (this conference's or one
    carried over from an earlier one)."""
    task = (await session.execute(
        select(Task).where(Task.id == task_id).with_for_update().execution_options(populate_existing=True)
    )).scalar()
    if task is None or task.source != CONFERENCE_SOURCE or task.case_id not in await _agenda_case_ids(session, conference_id):
        raise NotFound(f"no action {task_id} in this conference")
    return task


async def change_action(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                        data: ActionStatusIn) -> Changed:
    """The owning agency (or the chair) marks an action done, not applicable, blocked, ..."""
    await _live_participant(session, conference_id, actor)
    await _conference_action(session, conference_id, data.task_id)
    await tasks.change_status(session, registry, actor, data.task_id, status=data.status, version=data.version,
                              reason=data.reason)
    return Changed(conference_id, frozenset({"actions", "agenda"}))


async def confirm_action(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                         data: ActionConfirmIn) -> Changed:
    """The owning agency confirms an action agreed in this conference (the chair may for an
    agency not in the room)."""
    _, participant = await _live_participant(session, conference_id, actor)
    task = await _conference_action(session, conference_id, data.task_id)
    if task.conference_id != conference_id:
        raise Conflict("that action was agreed in an earlier conference")
    if participant.agency != task.agency and participant.role not in CHAIRING_ROLES:
        raise Forbidden(f"only {registry.name(task.agency)} or the chair can confirm this action")
    _check_version(task.version, data.version, "the action")
    if task.confirmed_at is None:
        task.confirmed_at = utcnow()
        task.version += 1
        await audit.record(session, actor, "action.confirmed", case_id=task.case_id, subject=f"task:{task.id}")
    return Changed(conference_id, frozenset({"actions"}))


async def add_note(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                   data: NoteIn) -> Changed:
    """The chair or the minute-taker records a decision or a note on a case."""
    _, participant = await _live_participant(session, conference_id, actor)
    if participant.role not in NOTE_TAKING_ROLES:
        raise Forbidden("only the chair or the minute-taker can record decisions and notes")
    if data.kind not in NOTE_KINDS:
        raise Invalid(f"kind must be one of {', '.join(NOTE_KINDS)}", field="kind")
    text = data.text.strip()
    if not text or len(text) > 5000:
        raise Invalid("write the note (up to 5000 characters)", field="text")
    await _require_on_agenda(session, conference_id, data.case_id)
    note = ConferenceNote(conference_id=conference_id, case_id=data.case_id, kind=data.kind, text=text, by_id=actor.id)
    session.add(note)
    await session.flush()
    await audit.record(session, actor, f"conference.{data.kind}", case_id=data.case_id,
                       subject=f"conference:{conference_id}", note_id=note.id)
    return Changed(conference_id, frozenset({"notes"}))


# --- what a page shows -------------------------------------------------------------------------------

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
    order_up: list[int] | None  # the agenda order if this item moved up one place
    order_down: list[int] | None


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


@dataclass
class ConferenceState:
    """One conference as its live page shows it. Only the aspects asked for are loaded; the
    others stay None. Nothing here depends on the viewer: information items, which do, are
    fetched through the consent gate per agency (``current_items``)."""

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
    agenda: list[AgendaEntry] | None = None
    participants: list[PersonView] | None = None
    case: CaseSummary | None = None
    roles: list[RoleView] | None = None
    actions: list[ActionView] | None = None
    notes: list[NoteView] | None = None


def _swapped(ids: list[int], i: int, j: int) -> list[int] | None:
    if not (0 <= i < len(ids) and 0 <= j < len(ids)):
        return None
    order = list(ids)
    order[i], order[j] = order[j], order[i]
    return order


async def _carried_over_counts(session: AsyncSession, conference_id: int, case_ids: list[int]) -> dict[int, int]:
    rows = await session.execute(
        select(Task.case_id, func.count()).where(_carried_over(conference_id), Task.case_id.in_(case_ids))
        .group_by(Task.case_id))
    return dict(rows.all())


def _carried_over(conference_id: int):
    return ((Task.source == CONFERENCE_SOURCE) & (Task.conference_id != conference_id)
            & Task.status.not_in(CLOSED_STATUSES))


async def _load_agenda(session: AsyncSession, conference_id: int) -> list[AgendaEntry]:
    rows = (await session.execute(
        select(AgendaItem, Case.reference, Case.risk_level).join(Case, Case.id == AgendaItem.case_id)
        .where(AgendaItem.conference_id == conference_id).order_by(AgendaItem.position)
    )).all()
    counts = await _carried_over_counts(session, conference_id, [item.case_id for item, _, _ in rows])
    ids = [item.id for item, _, _ in rows]
    return [AgendaEntry(id=item.id, case_id=item.case_id, reference=reference, group=item.group, risk_level=risk,
                        status=item.status, carried_over=counts.get(item.case_id, 0),
                        order_up=_swapped(ids, i, i - 1), order_down=_swapped(ids, i, i + 1))
            for i, (item, reference, risk) in enumerate(rows)]


async def _load_participants(session: AsyncSession, conference_id: int) -> list[PersonView]:
    rows = (await session.execute(
        select(Participant, User.display_name).join(User, User.id == Participant.user_id)
        .where(Participant.conference_id == conference_id).order_by(Participant.agency, User.display_name)
    )).all()
    return [PersonView(participant_id=p.id, user_id=p.user_id, name=name, agency=p.agency, role=p.role,
                       accepted=p.statement_accepted_at is not None, apology=p.apology, present=p.connections > 0,
                       joined=p.joined_at is not None) for p, name in rows]


async def _load_case(session: AsyncSession, case_id: int) -> CaseSummary:
    case = (await session.execute(
        select(Case).where(Case.id == case_id)
        .options(selectinload(Case.people), selectinload(Case.key_dates), selectinload(Case.agencies))
    )).scalar_one()
    return CaseSummary(id=case.id, reference=case.reference, kind=case.kind, stage=case.stage,
                       risk_level=case.risk_level, summary=case.summary, lead_agency=case.lead_agency,
                       people=[(p.role, p.name) for p in case.people],
                       key_dates=[(k.kind, k.on, k.note) for k in case.key_dates],
                       agencies=[a.agency for a in case.agencies])


def _role_views(registry: AgencyRegistry, holders: dict[str, tuple[RoleAssignment, str | None]]) -> list[RoleView]:
    views = []
    for responsibility in registry.responsibilities:
        held = holders.get(responsibility.key)
        assignment, person = held if held else (None, None)
        views.append(RoleView(
            key=responsibility.key, label=responsibility.label,
            able=[a.key for a in registry if registry.can_take(a.key, responsibility.key)],
            version=_role_version(assignment), agency=assignment.agency if assignment else None, person=person,
            status=assignment.status if assignment else None, since=assignment.assigned_at if assignment else None))
    return views


async def _load_roles(session: AsyncSession, registry: AgencyRegistry, case_id: int,
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
    return _role_views(registry, holders)


def _action_view(task: Task, assignee: str | None, conference_id: int, status: str | None = None) -> ActionView:
    return ActionView(id=task.id, case_id=task.case_id, agency=task.agency, title=task.title, domain=task.domain,
                      due_on=task.due_on, status=status or task.status, reason=task.reason, assignee=assignee,
                      version=task.version, confirmed=task.confirmed_at is not None,
                      carried_over=task.conference_id != conference_id)


async def _load_actions(session: AsyncSession, conference_id: int, case_id: int) -> list[ActionView]:
    """This conference's actions on the case, then those carried over from earlier ones."""
    rows = (await session.execute(
        select(Task, User.display_name).outerjoin(User, User.id == Task.assignee_id)
        .where(Task.case_id == case_id, (Task.conference_id == conference_id) | _carried_over(conference_id))
        .order_by(Task.conference_id != conference_id, Task.due_on, Task.id)
    )).all()
    return [_action_view(task, name, conference_id) for task, name in rows]


async def _load_notes(session: AsyncSession, conference_id: int, case_id: int) -> list[NoteView]:
    rows = (await session.execute(
        select(ConferenceNote, User.display_name).join(User, User.id == ConferenceNote.by_id)
        .where(ConferenceNote.conference_id == conference_id, ConferenceNote.case_id == case_id)
        .order_by(ConferenceNote.id)
    )).all()
    return [NoteView(id=n.id, kind=n.kind, text=n.text, by=name, at=n.at) for n, name in rows]


async def load_state(session: AsyncSession, registry: AgencyRegistry, conference_id: int,
                     aspects: Iterable[str] = EVERYTHING) -> ConferenceState:
    """The conference and the aspects asked for, read in one go (for a page or a live update)."""
    aspects = set(aspects)
    conference = await _conference(session, conference_id)
    current_case_id = None
    if conference.current_item_id is not None:
        current_case_id = (await session.execute(
            select(AgendaItem.case_id).where(AgendaItem.id == conference.current_item_id))).scalar()
    state = ConferenceState(
        id=conference.id, title=conference.title, scheduled_at=conference.scheduled_at, status=conference.status,
        version=conference.version, chair_id=conference.chair_id, started_at=conference.started_at,
        ended_at=conference.ended_at, current_item_id=conference.current_item_id, current_case_id=current_case_id)
    if aspects & {"agenda", "status"}:
        state.agenda = await _load_agenda(session, conference_id)
    if "presence" in aspects:
        state.participants = await _load_participants(session, conference_id)
    if current_case_id is not None:
        if "case" in aspects:
            state.case = await _load_case(session, current_case_id)
        if "roles" in aspects:
            state.roles = await _load_roles(session, registry, current_case_id)
        if "actions" in aspects:
            state.actions = await _load_actions(session, conference_id, current_case_id)
        if "notes" in aspects:
            state.notes = await _load_notes(session, conference_id, current_case_id)
    return state


async def current_items(session: AsyncSession, registry: AgencyRegistry, viewer: Actor,
                        state: ConferenceState) -> list[ItemView]:
    """The current case's information as the viewer's agency may see it (through the gate,
    which audits what it discloses)."""
    if state.current_case_id is None:
        return []
    return await sharing.visible_items(session, registry, viewer, state.current_case_id, channel="conference")


@dataclass(frozen=True)
class LivePage:
    role: str  # the viewer's role in the conference
    state: ConferenceState
    items: list[ItemView]  # the current case's information as the viewer's agency may see it


async def live_page(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int) -> LivePage:
    """Everything the live page shows an admitted participant (StatementNeeded until they accept)."""
    participant = await admitted_participant(session, conference_id, actor)
    state = await load_state(session, registry, conference_id)
    return LivePage(participant.role, state, await current_items(session, registry, actor, state))


# --- minutes -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MinutesCase:
    reference: str
    group: str
    risk_level: str
    information: list[ItemView]
    roles: list[RoleView]
    actions: list[ActionView]
    decisions: list[NoteView]
    notes: list[NoteView]


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
    apologies: list[tuple[str | None, str]]  # (agency, name)
    absent: list[tuple[str | None, str]]
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


async def _actions_at(session: AsyncSession, conference_id: int, case_id: int, at: dt.datetime) -> list[ActionView]:
    """The actions agreed in the conference, each with its status as it stood at ``at``."""
    rows = (await session.execute(
        select(Task, User.display_name).outerjoin(User, User.id == Task.assignee_id)
        .where(Task.conference_id == conference_id, Task.case_id == case_id).order_by(Task.due_on, Task.id)
    )).all()
    statuses = dict((await session.execute(
        select(TaskEvent.task_id, TaskEvent.status).where(TaskEvent.task_id.in_([t.id for t, _ in rows]),
                                                          TaskEvent.at <= at).order_by(TaskEvent.id)
    )).all())  # the last event at or before ``at`` wins
    return [_action_view(task, name, conference_id, statuses.get(task.id)) for task, name in rows]


async def minutes(session: AsyncSession, registry: AgencyRegistry, viewer: Actor, conference_id: int) -> Minutes:
    """The minutes of an ended conference, filtered for the viewer's agency by the consent gate
    as it stands now (a withdrawal takes effect on the minutes too)."""
    conference = await _conference(session, conference_id)
    participant = await _participant_of(session, conference_id, viewer.id)
    if participant is None and viewer.role not in COORDINATING_ROLES:
        raise Forbidden("only the conference's participants can read its minutes")
    if conference.status != "ended" or conference.ended_at is None:
        raise Conflict("the minutes are produced when the conference ends")
    ended_at = conference.ended_at
    people = await _load_participants(session, conference_id)
    by_agency: dict[str | None, list[str]] = {}
    for person in people:
        if person.joined:
            by_agency.setdefault(person.agency, []).append(person.name)
    chair = next((p.name for p in people if p.user_id == conference.chair_id), "")
    cases = []
    for entry in await _load_agenda(session, conference_id):
        if entry.status != "discussed":
            continue
        all_notes = await _load_notes(session, conference_id, entry.case_id)
        items = await sharing.visible_items(
            session, registry, viewer, entry.case_id, channel="minutes", include_superseded=True,
            item_ids=await _item_ids_as_they_stood(session, entry.case_id, ended_at))
        cases.append(MinutesCase(
            reference=entry.reference, group=entry.group, risk_level=entry.risk_level,
            information=items,
            roles=[r for r in await _load_roles(session, registry, entry.case_id, at=ended_at) if r.agency],
            actions=await _actions_at(session, conference_id, entry.case_id, ended_at),
            decisions=[n for n in all_notes if n.kind == "decision"], notes=[n for n in all_notes if n.kind == "note"]))
    return Minutes(
        conference_id=conference.id, title=conference.title, scheduled_at=conference.scheduled_at,
        started_at=conference.started_at, ended_at=ended_at, chair=chair, agency=viewer.agency, attendees=list(by_agency.items()),
        apologies=[(p.agency, p.name) for p in people if p.apology and not p.joined],
        absent=[(p.agency, p.name) for p in people if not p.apology and not p.joined], cases=cases)
