"""A threat-assessment team's roles on its case: the team's lead (who approves the classification and the
closure), its case manager, and its members, each for her agency (each agency on the case).

Roles are held by people and kept per case, because each case's team is the agencies its report names. A
role is never edited: naming someone ends the role she held and, for the lead and the case manager, the
role of whoever held it, so the history shows who held what when. Partial unique indexes keep one lead,
one case manager and one role per person in force, whatever two people do at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, events, policy
from coordinator.errors import Conflict, Invalid, NotFound
from coordinator.lifecycle import threat_plans
from coordinator.limits import Id, OneOf
from coordinator.models import TeamRole, ThreatScreening, User, utcnow
from coordinator.policy import TEAM_ROLES, Actor

SINGLE_ROLES = ("lead", "case_manager")  # one person at a time holds each


@dataclass
class TeamRoleIn:
    """Name a person of an agency on the case to a role on its team (ending the role she held, and for the
    lead and the case manager, the role of whoever held it)."""

    user_id: Id
    role: OneOf(TEAM_ROLES)


@dataclass(frozen=True)
class TeamMember:
    id: int  # the role's id
    user_id: int
    name: str
    role: str
    agency: str
    assigned_at: dt.datetime


async def lead_id(session: AsyncSession, case_id: int) -> int | None:
    """The user id of the team's lead in force, if the case's team has one."""
    return (await session.execute(select(TeamRole.user_id).where(
        TeamRole.case_id == case_id, TeamRole.role == "lead", TeamRole.ended_at.is_(None)))).scalar()


async def team(session: AsyncSession, case_id: int) -> list[TeamMember]:
    """The roles in force: the lead, the case manager, then the members by agency and name."""
    rows = (await session.execute(
        select(TeamRole, User.display_name).join(User, User.id == TeamRole.user_id)
        .where(TeamRole.case_id == case_id, TeamRole.ended_at.is_(None)))).all()
    order = {role: i for i, role in enumerate(TEAM_ROLES)}
    members = [TeamMember(r.id, r.user_id, name, r.role, r.agency, r.assigned_at) for r, name in rows]
    return sorted(members, key=lambda m: (order[m.role], m.agency, m.name))


async def _team_person(session: AsyncSession, user_id: int, agencies: list[str]) -> User:
    user = await session.get(User, user_id)
    if user is None or not user.active or user.agency not in agencies:
        raise Invalid(f"user {user_id} is not an active member of an agency on the case's team", field="user_id")
    return user


async def _require_no_own_pending(session: AsyncSession, case_id: int, person: User) -> None:
    """A classification awaiting approval is decided by a lead other than the one who recorded it: naming
    its recorder the lead waits until it is decided."""
    version = (await session.execute(select(ThreatScreening.version).where(
        ThreatScreening.case_id == case_id, ThreatScreening.status == "pending",
        ThreatScreening.by_id == person.id))).scalar()
    if version is not None:
        raise Conflict(f"{person.display_name}'s classification (version {version}) awaits the team lead's approval: "
                       "nobody approves their own, so it is decided before she leads the team", field="user_id")


async def assign(session: AsyncSession, actor: Actor, case_id: int, role_in: TeamRoleIn) -> TeamRole:
    case = await threat_plans.threat_case(session, actor, case_id, "team", write=True)
    policy.require_team_role_assigner(actor, case, role_in.role, await lead_id(session, case.id))
    person = await _team_person(session, role_in.user_id, cases.agencies_of(case))
    if role_in.role == "lead":
        await _require_no_own_pending(session, case.id, person)
    now = utcnow()
    held = TeamRole.user_id == person.id
    if role_in.role in SINGLE_ROLES:
        held |= TeamRole.role == role_in.role
    ended = list((await session.execute(
        update(TeamRole).where(TeamRole.case_id == case.id, TeamRole.ended_at.is_(None), held)
        .values(ended_at=now, ended_by_id=actor.id).returning(TeamRole.id))).scalars())
    role = TeamRole(case_id=case.id, user_id=person.id, role=role_in.role, agency=person.agency,
                    assigned_by_id=actor.id, assigned_at=now)
    try:
        async with session.begin_nested():  # two namings at once: the partial unique indexes decide
            session.add(role)
    except IntegrityError:
        raise Conflict(f"the team of case {case.reference} changed meanwhile: check it and try again",
                       field="role") from None
    await audit.record(session, actor, "team_role.assigned", case_id=case.id, subject=f"team_role:{role.id}",
                       role=role.role, user_id=person.id, agency=person.agency, ended=ended)
    events.case_changed(session, case.id, "case")
    return role


async def end(session: AsyncSession, actor: Actor, case_id: int, role_id: int) -> None:
    """End a role (she leaves the team, or the role is no longer needed); the history keeps it."""
    case = await threat_plans.threat_case(session, actor, case_id, "team", write=True)
    role = await session.get(TeamRole, role_id)
    if role is None or role.case_id != case.id:
        raise NotFound(f"no team role {role_id} on case {case_id}")
    policy.require_team_role_assigner(actor, case, role.role, await lead_id(session, case.id))
    ended = await session.execute(update(TeamRole).where(TeamRole.id == role.id, TeamRole.ended_at.is_(None))
                                  .values(ended_at=utcnow(), ended_by_id=actor.id))
    if ended.rowcount != 1:
        raise Conflict(f"team role {role_id} has ended already", field="role")
    await audit.record(session, actor, "team_role.ended", case_id=case.id, subject=f"team_role:{role.id}",
                       role=role.role, user_id=role.user_id)
    events.case_changed(session, case.id, "case")
