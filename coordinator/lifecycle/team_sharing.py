"""A threat-assessment team's recorded basis for sharing within the team (DECISIONS: "Threat-assessment
teams share within the team on a case-level legal basis recorded with its approver").

A supervisor records it, choosing from the bases the deployment configures
(COORDINATOR_TEAM_SHARING_BASES), and is its approver. The consent gate honours it for the agencies on the
case only (``policy.may_share_within_team``), each sighting audited as a disclosure on ``team:<id>``;
removing it withdraws it at once. At most one is in force per case: a partial unique index decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coordinator import audit, events, policy
from coordinator.errors import Conflict, Invalid
from coordinator.lifecycle import threat_plans
from coordinator.limits import Line
from coordinator.models import TeamBasis, utcnow
from coordinator.policy import Actor

PARTS = ("items", "overrides")  # what a new or removed basis changes on open pages: what the gate shows


@dataclass
class TeamBasisIn:
    legal_basis: Line(60)


async def in_force(session: AsyncSession, case_id: int) -> TeamBasis | None:
    return (await session.execute(select(TeamBasis).where(TeamBasis.case_id == case_id,
                                                          TeamBasis.removed_at.is_(None)))).scalar()


async def record_basis(session: AsyncSession, bases: Sequence[str], actor: Actor, case_id: int,
                       basis_in: TeamBasisIn) -> TeamBasis:
    case = await threat_plans.threat_case(session, actor, case_id, "team sharing basis", write=True)
    policy.require_team_basis_keeper(actor, case)
    if basis_in.legal_basis not in bases:
        raise Invalid(f"the basis must be one of {', '.join(bases)}", field="legal_basis")
    basis = TeamBasis(case_id=case.id, legal_basis=basis_in.legal_basis, approved_by_id=actor.id)
    try:
        async with session.begin_nested():
            session.add(basis)
    except IntegrityError:
        raise Conflict(f"case {case.reference} has a team sharing basis in force already: remove it first",
                       field="legal_basis") from None
    await audit.record(session, actor, "team_basis.recorded", case_id=case.id, subject=f"team:{basis.id}",
                       legal_basis=basis.legal_basis)
    events.case_changed(session, case.id, *PARTS)
    return basis


async def remove_basis(session: AsyncSession, actor: Actor, case_id: int) -> None:
    """Withdraw the team's basis: from now on the gate shows the team only what consent and overrides allow."""
    case = await threat_plans.threat_case(session, actor, case_id, "team sharing basis", write=True)
    policy.require_team_basis_keeper(actor, case)
    removed = (await session.execute(
        update(TeamBasis).where(TeamBasis.case_id == case.id, TeamBasis.removed_at.is_(None))
        .values(removed_at=utcnow(), removed_by_id=actor.id).returning(TeamBasis.id))).scalar()
    if removed is None:
        raise Conflict(f"case {case.reference} has no team sharing basis in force", field="legal_basis")
    await audit.record(session, actor, "team_basis.removed", case_id=case.id, subject=f"team:{removed}")
    events.case_changed(session, case.id, *PARTS)
