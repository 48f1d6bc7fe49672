"""Who is in a conference: invitations, the confidentiality statement, apologies, presence,
and the checks every other conference service starts from (``seat``, ``agenda_case``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from coordinator import audit, events, policy
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.limits import Id, OneOf
from coordinator.models import AgendaItem, Case, Conference, LiveConnection, Participant, User, utcnow
from coordinator.policy import Actor, Audience
from coordinator.settings import Settings

CONFIDENTIALITY_STATEMENT = (
    "Information shared in this conference is confidential. It is shared only to keep the people "
    "in these cases safe, on the basis the survivor consented to or the law allows. I will not "
    "record, copy or pass on anything I see or hear here except as agreed in the action plan, and "
    "I will keep what I learn within my agency's duty to act on it."
)
PRESENCE_TIMEOUT = "presence_timeout_seconds"  # the session.info key of the presence timeout


@dataclass
class InviteIn:
    user_id: Id
    role: OneOf(policy.PARTICIPANT_ROLES[1:]) = "representative"  # the chair is chosen otherwise


@dataclass
class RemoveIn:
    participant_id: Id


@dataclass(frozen=True)
class Seat:
    """An admitted participant in a conference, and the audience they see it as."""

    conference: Conference
    participant: Participant

    @property
    def audience(self) -> Audience:
        return Audience.of(self.participant)


async def load_conference(session: AsyncSession, conference_id: int, *, lock: bool = False) -> Conference:
    query = select(Conference).where(Conference.id == conference_id).execution_options(populate_existing=True)
    if lock:  # serialise changes to one conference (a no-op on SQLite, which serialises writers)
        query = query.with_for_update()
    conference = (await session.execute(query)).scalar()
    if conference is None:
        raise NotFound(f"no conference {conference_id}")
    return conference


async def participant_of(session: AsyncSession, conference_id: int, user_id: int | None) -> Participant | None:
    if user_id is None:
        return None
    return (await session.execute(
        select(Participant).where(Participant.conference_id == conference_id, Participant.user_id == user_id)
        .execution_options(populate_existing=True)
    )).scalar()


# Built once, with its values as parameters: every change in a meeting runs it, and building a
# statement anew costs more than running it on SQLite.
_SEAT = (select(Participant, Conference).join(Conference, Conference.id == Participant.conference_id)
         .where(Participant.conference_id == bindparam("conference_id"), Participant.user_id == bindparam("user_id"))
         .execution_options(populate_existing=True))
_SEAT_LOCKED = _SEAT.with_for_update(of=Conference)


async def seat(session: AsyncSession, actor: Actor, conference_id: int, *, live: bool = False,
               lock: bool = False) -> Seat:
    """The actor's seat: invited (else the conference does not exist for them), statement
    accepted, and, for changes made during the meeting, the meeting live."""
    # One statement for both: every change in a meeting starts here. With ``lock``, changes to
    # one conference are serialised (a no-op on SQLite, which serialises writers).
    found = (await session.execute(_SEAT_LOCKED if lock else _SEAT,
                                   {"conference_id": conference_id, "user_id": actor.id})).first()
    participant, conference = found if found is not None else (None, None)
    policy.require_admitted(participant, conference_id)  # not invited: as if there were no such conference
    if live and conference.status != "live":
        raise Conflict(f"the conference is {conference.status}: you can change it only while it is live")
    return Seat(conference, participant)


async def agenda_case(session: AsyncSession, seat: Seat, case_id: int) -> Case:
    """A case on the conference's agenda that the seat's audience may see in full (with its
    agencies), for a change on it."""
    on_agenda = (await session.execute(select(AgendaItem.id).where(
        AgendaItem.conference_id == seat.conference.id, AgendaItem.case_id == case_id))).scalar()
    if on_agenda is None:
        raise Invalid(f"case {case_id} is not on this conference's agenda", field="case_id")
    case = (await session.execute(
        select(Case).where(Case.id == case_id).options(selectinload(Case.agencies)))).scalar_one()
    policy.require_agenda_case_visible(seat.audience, [a.agency for a in case.agencies], case.reference)
    return case


async def active_user(session: AsyncSession, user_id: int, field_name: str) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise Invalid(f"no active user {user_id}", field=field_name)
    return user


def check_invite(user: User, role: str, field_name: str) -> None:
    if role not in policy.PARTICIPANT_ROLES or role == "chair":
        raise Invalid(f"a participant's role must be one of {', '.join(policy.PARTICIPANT_ROLES[1:])}",
                      field=field_name)
    if not policy.may_hold_participant_role(_actor(user), role):
        raise Invalid(f"{user.display_name} cannot be {role.replace('_', ' ')}: that role is for coordinators",
                      field=field_name)


def _actor(user: User) -> Actor:
    return Actor(id=user.id, agency=user.agency, role=user.role, name=user.display_name)


async def invite_participant(session: AsyncSession, actor: Actor, conference_id: int, invite: InviteIn) -> Participant:
    """The chair or a coordinator invites someone (before or during the meeting)."""
    conference = await load_conference(session, conference_id)
    policy.require_organiser(actor, await participant_of(session, conference_id, actor.id), "invite people")
    if conference.status == "ended":
        raise Conflict("the conference has ended")
    user = await active_user(session, invite.user_id, "user_id")
    check_invite(user, invite.role, "role")
    already = Conflict(f"{user.display_name} is already invited", field="user_id")
    if await participant_of(session, conference_id, user.id) is not None:
        raise already
    participant = Participant(conference_id=conference_id, user_id=user.id, agency=user.agency, role=invite.role)
    # Two organisers inviting the same person at once both pass the check above; the unique
    # (conference, user) decides, inside a savepoint so the loser's transaction can still answer.
    try:
        async with session.begin_nested():
            session.add(participant)
    except IntegrityError:
        raise already from None
    await audit.record(session, actor, "conference.invited", subject=f"conference:{conference_id}",
                       user_id=user.id, role=invite.role)
    events.conference_changed(session, conference_id, "participants")
    return participant


async def remove_participant(session: AsyncSession, registry: object, actor: Actor, conference_id: int,
                             data: RemoveIn) -> None:
    """The chair or a coordinator takes someone off the conference (invited by mistake, or no
    longer concerned): their place goes, and with it any page they have open on it. The
    signature is a meeting change's, so the live page's form and the API share it."""
    conference = await load_conference(session, conference_id, lock=True)
    policy.require_participant_remover(actor, await participant_of(session, conference_id, actor.id))
    if conference.status == "ended":
        raise Conflict("the conference has ended: its attendance is part of the minutes")
    participant = await session.get(Participant, data.participant_id, populate_existing=True)
    if participant is None or participant.conference_id != conference_id:
        raise NotFound(f"no participant {data.participant_id} in this conference")
    policy.require_removable(participant)
    removed = await session.execute(delete(Participant).where(Participant.id == participant.id))
    if removed.rowcount != 1:  # removed meanwhile by someone else
        raise NotFound(f"no participant {data.participant_id} in this conference")
    await session.execute(delete(LiveConnection).where(LiveConnection.conference_id == conference_id,
                                                       LiveConnection.user_id == participant.user_id))
    await audit.record(session, actor, "conference.participant_removed", subject=f"conference:{conference_id}",
                       user_id=participant.user_id, role=participant.role)
    events.conference_changed(session, conference_id, "participants")


async def invited(session: AsyncSession, actor: Actor, conference_id: int) -> tuple[Conference, Participant]:
    """The conference and the actor's invitation to it (404 if not invited)."""
    participant = policy.require_invited(await participant_of(session, conference_id, actor.id), conference_id)
    return await load_conference(session, conference_id), participant


async def accept_statement(session: AsyncSession, actor: Actor, conference_id: int) -> Participant:
    """Record, once per conference, that the participant accepted the confidentiality statement.
    Only the first acceptance counts: the update is conditional, so two at once audit once."""
    _, participant = await invited(session, actor, conference_id)
    accepted = await session.execute(
        update(Participant).where(Participant.id == participant.id, Participant.statement_accepted_at.is_(None))
        .values(statement_accepted_at=utcnow(), apology=False))
    if accepted.rowcount == 1:
        await audit.record(session, actor, "conference.statement_accepted", subject=f"conference:{conference_id}")
        events.conference_changed(session, conference_id, "participants")
    await session.refresh(participant)
    return participant


async def enter_room(session: AsyncSession, actor: Actor, conference_id: int, process: str) -> LiveConnection:
    """An admitted participant's page connected: they are in the room for as long as its
    connection row stays fresh (see ``heartbeat``)."""
    participant = (await seat(session, actor, conference_id)).participant
    connection = LiveConnection(conference_id=conference_id, user_id=actor.id, process=process)
    session.add(connection)
    if participant.joined_at is None:
        participant.joined_at = utcnow()
    await audit.record(session, actor, "conference.entered", subject=f"conference:{conference_id}")
    events.conference_changed(session, conference_id, "participants")
    await session.flush()
    return connection


async def leave_room(session: AsyncSession, actor: Actor, connection: LiveConnection) -> None:
    """A participant's page disconnected (closed, network lost): its connection is gone."""
    await session.execute(delete(LiveConnection).where(LiveConnection.id == connection.id))
    await audit.record(session, actor, "conference.left", subject=f"conference:{connection.conference_id}")
    events.conference_changed(session, connection.conference_id, "participants")


def use_presence_timeout(sessionmaker: async_sessionmaker[AsyncSession], seconds: int) -> None:
    """Sessions of this sessionmaker count connections silent for longer than ``seconds`` as
    gone. The timeout travels on the sessions, so every reader of presence (pages, the API,
    the live hub) uses the server's setting without passing it through."""
    sessionmaker.configure(info={**sessionmaker.kw.get("info", {}), PRESENCE_TIMEOUT: seconds})


def presence_cutoff(session: AsyncSession) -> dt.datetime:
    """Connections whose last heartbeat is older than this are gone (their process died)."""
    seconds = session.info.get(PRESENCE_TIMEOUT, Settings.presence_timeout_seconds)
    return utcnow() - dt.timedelta(seconds=seconds)


async def heartbeat(session: AsyncSession, process: str, connections: list[LiveConnection]) -> None:
    """The pages one process serves are still there: one statement for all of them, so the cost
    grows with processes, not pages. Stale connections (of a crashed process) are removed and
    their rooms told, so pages notice people whose server crashed without waiting for a change."""
    now = utcnow()
    refreshed = await session.execute(
        update(LiveConnection).where(LiveConnection.process == process).values(heartbeat_at=now))
    if refreshed.rowcount < len(connections):
        # This process stalled past the timeout and another removed its rows as stale: the pages
        # are still open, so their rows come back, and the people with them.
        kept = set((await session.execute(
            select(LiveConnection.id).where(LiveConnection.process == process))).scalars())
        for connection in connections:
            if connection.id not in kept:
                connection.heartbeat_at = now
                await session.merge(connection)
                events.conference_changed(session, connection.conference_id, "participants")
    stale = await session.execute(delete(LiveConnection).where(LiveConnection.heartbeat_at < presence_cutoff(session))
                                  .returning(LiveConnection.conference_id))
    for conference_id in set(stale.scalars()):
        events.conference_changed(session, conference_id, "participants")


async def clear_process(session: AsyncSession, process: str) -> int:
    """At start-up: remove the connections an earlier process left under this host and pid.
    No two running processes share a host and pid, so those rows belong to a dead one (a
    restarted container keeps both); other processes' rows go when their heartbeats stop."""
    host_and_pid = process.rsplit(":", 1)[0]
    cleared = await session.execute(
        delete(LiveConnection).where(LiveConnection.process.startswith(f"{host_and_pid}:", autoescape=True)))
    return cleared.rowcount
