"""The role map of a case, changed in a conference (the chair assigns and confirms, an agency on
the case volunteers) or between meetings by a coordinator. Each role is stored once with its
history (a reassignment ends the old row), and every change is checked against the version the
actor saw. The shared duties follow the role map (``duties.settle``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, cases, duties, events, policy
from coordinator.conference.participation import Seat, agenda_case, seat
from coordinator.errors import Conflict, Forbidden, Invalid, require_version
from coordinator.limits import Count, Id, Key, Responsibility
from coordinator.models import Case, RoleAssignment, User, utcnow
from coordinator.plugins import AgencyRegistry
from coordinator.policy import Actor


@dataclass
class RoleIn:
    """The chair assigns (or reassigns) ``responsibility`` on a case. ``version`` is the role's
    version as the chair saw it (0 while nobody holds it)."""

    case_id: Id
    responsibility: Responsibility
    agency: Key
    version: Count
    person_id: Id | None = None


@dataclass
class CaseRoleIn:
    """A coordinator gives a responsibility on a case to an agency between meetings."""

    responsibility: Responsibility
    agency: Key
    version: Count
    person_id: Id | None = None


@dataclass
class RoleSlotIn:
    """Volunteer for, or confirm, one responsibility on a case, at the version seen."""

    case_id: Id
    responsibility: Responsibility
    version: Count


def role_version(assignment: RoleAssignment | None) -> int:
    return assignment.version if assignment else 0


def responsibility_label(registry: AgencyRegistry, key: str) -> str:
    for responsibility in registry.responsibilities:
        if responsibility.key == key:
            return responsibility.label
    raise Invalid(f"no agency declares the responsibility {key!r}", field="responsibility")


async def _role_as_seen(session: AsyncSession, registry: AgencyRegistry, case_id: int, responsibility: str,
                        seen: int) -> RoleAssignment | None:
    """The role's current holder, locked, provided it is still the version the actor saw."""
    # Lock the case row first, so two changes of one role never both read the same holder.
    await session.execute(select(Case.id).where(Case.id == case_id).with_for_update())
    current = (await session.execute(
        select(RoleAssignment).where(RoleAssignment.case_id == case_id, RoleAssignment.responsibility == responsibility,
                                     RoleAssignment.ended_at.is_(None))
        .execution_options(populate_existing=True)
    )).scalar()
    if role_version(current) != seen:
        holder = (f"now held by {registry.name(current.agency)} ({current.status})" if current else "now vacant")
        require_version(role_version(current), seen,
                        f"the role {responsibility_label(registry, responsibility)} ({holder})")
    return current


async def _role_in_play(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                        case_id: int, responsibility: str) -> tuple[Seat, Case, str]:
    """Checks common to every role-map change: the meeting is live, the actor admitted, the case
    on the agenda and visible to the actor's audience, the responsibility declared."""
    place = await seat(session, actor, conference_id, live=True)
    case = await agenda_case(session, place, case_id)
    return place, case, responsibility_label(registry, responsibility)


async def _still_as_seen(session: AsyncSession, registry: AgencyRegistry, holder: RoleAssignment,
                         **change: object) -> None:
    """Change the holder's row only if it is still current at the version read: the compare is
    part of the UPDATE, so it holds across processes and SQLite snapshots, where the case lock
    taken by ``_role_as_seen`` is a no-op."""
    seen = holder.version
    changed = await session.execute(
        update(RoleAssignment).where(RoleAssignment.id == holder.id, RoleAssignment.version == seen,
                                     RoleAssignment.ended_at.is_(None)).values(**change))
    if changed.rowcount != 1:
        raise Conflict(f"the role {responsibility_label(registry, holder.responsibility)} was changed by someone "
                       f"else meanwhile (you saw version {seen}): the current state is shown, check it and try again",
                       field="version")


async def _replace_role(session: AsyncSession, registry: AgencyRegistry, conference_id: int | None, actor: Actor,
                        previous: RoleAssignment | None, *,
                        case_id: int, responsibility: str, agency: str, person_id: int | None, status: str) -> None:
    """End the previous holder (kept as history) and record the new one."""
    now = utcnow()
    if previous is not None:
        await _still_as_seen(session, registry, previous, ended_at=now)
    assignment = RoleAssignment(case_id=case_id, responsibility=responsibility, agency=agency, person_id=person_id,
                                status=status, conference_id=conference_id, assigned_by_id=actor.id, assigned_at=now,
                                version=role_version(previous) + 1)
    session.add(assignment)
    await session.flush()
    await audit.record(session, actor, f"role.{'assigned' if status == 'confirmed' else 'proposed'}", case_id=case_id,
                       subject=f"role:{assignment.id}", responsibility=responsibility, agency=agency,
                       person_id=person_id, previous=previous.agency if previous else None)
    events.case_changed(session, case_id, "roles")
    await duties.settle(session, registry, actor, case_id)


async def _give_role(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int | None,
                    case: Case, label: str, data: RoleIn | CaseRoleIn) -> None:
    """Give the role to an agency on the case that can take it (and a person of that agency)."""
    if not registry.can_take(data.agency, data.responsibility):
        raise Invalid(f"{registry.name(data.agency)} cannot take {label}", field="agency")
    if not policy.on_case(data.agency, [a.agency for a in case.agencies]):
        raise Invalid(f"{registry.name(data.agency)} is not part of case {case.reference}: add it first", field="agency")
    if data.person_id is not None:
        person = await session.get(User, data.person_id)
        if person is None or person.agency != data.agency:
            raise Invalid(f"the person must be someone of {registry.name(data.agency)}", field="person_id")
    current = await _role_as_seen(session, registry, case.id, data.responsibility, data.version)
    await _replace_role(session, registry, conference_id, actor, current, case_id=case.id,
                        responsibility=data.responsibility, agency=data.agency, person_id=data.person_id,
                        status="confirmed")


async def assign_role(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                      data: RoleIn) -> None:
    """The chair gives a responsibility on a case to an agency (and optionally a named person)."""
    place, case, label = await _role_in_play(session, registry, actor, conference_id, data.case_id, data.responsibility)
    policy.require_chair(place.participant, "assign roles")
    await _give_role(session, registry, actor, conference_id, case, label, data)


async def assign_case_role(session: AsyncSession, registry: AgencyRegistry, actor: Actor, case_id: int,
                           data: CaseRoleIn) -> None:
    """A coordinator changes the role map between meetings (the lead agency at any time)."""
    policy.require_coordinator(actor, "change the role map outside a conference")
    case = await cases.load_case(session, case_id)
    policy.require_role_map_changer(actor, case)
    await _give_role(session, registry, actor, None, case, responsibility_label(registry, data.responsibility), data)


async def case_roles(session: AsyncSession, case_id: int) -> list[RoleAssignment]:
    """The role map as it stands (current holders)."""
    return list((await session.execute(
        select(RoleAssignment).where(RoleAssignment.case_id == case_id, RoleAssignment.ended_at.is_(None))
        .order_by(RoleAssignment.responsibility))).scalars())


async def volunteer_for_role(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                             data: RoleSlotIn) -> None:
    """A representative proposes their own agency for a vacant (or only proposed) role; the
    chair confirms it."""
    place, case, label = await _role_in_play(session, registry, actor, conference_id, data.case_id,
                                             data.responsibility)
    on_case = [a.agency for a in case.agencies]
    able = [a.key for a in registry if a.key in on_case and registry.can_take(a.key, data.responsibility)]
    if not policy.may_volunteer(place.audience, able):
        raise Forbidden(f"your agency cannot take {label}")
    current = await _role_as_seen(session, registry, data.case_id, data.responsibility, data.version)
    if current is not None and current.status == "confirmed":
        raise Conflict(f"{label} is already held by {registry.name(current.agency)}: ask the chair to reassign it")
    await _replace_role(session, registry, conference_id, actor, current, case_id=data.case_id,
                        responsibility=data.responsibility, agency=place.participant.agency, person_id=actor.id,
                        status="proposed")


async def confirm_role(session: AsyncSession, registry: AgencyRegistry, actor: Actor, conference_id: int,
                       data: RoleSlotIn) -> None:
    """The chair confirms an agency's offer to take a role."""
    place, _, label = await _role_in_play(session, registry, actor, conference_id, data.case_id, data.responsibility)
    policy.require_chair(place.participant, "confirm roles")
    current = await _role_as_seen(session, registry, data.case_id, data.responsibility, data.version)
    if current is None or current.status != "proposed":
        raise Conflict(f"nobody has offered to take {label}")
    await _still_as_seen(session, registry, current, status="confirmed", version=current.version + 1)
    await audit.record(session, actor, "role.confirmed", case_id=data.case_id, subject=f"role:{current.id}",
                       responsibility=data.responsibility, agency=current.agency)
    events.case_changed(session, data.case_id, "roles")
    await duties.settle(session, registry, actor, data.case_id)
